"""cocotb: in-situ training of a digits MLP with the RTL in the loop (see :mod:`tb.cosim.run`).

Python wake-ups are kept few: the AXI-Lite write driver (:class:`FastAxil`) holds AWVALID/WVALID
high and wakes once per write, on the rising edge of BVALID (the CSR block accepts a new write in the
cycle after its response, so the next word is presented right there: one write per 2 cycles, the bus's
peak rate); the array models wake on the rising and falling edges of ``write``/``read`` only; the
clock is cocotb's. Nothing wakes per idle cycle except the STATUS polls at the end of each sample.

Forward passes use the conductances of the behavioural arrays (the state the RTL's pulses produced,
loaded into the host network every sample); READ_REQ/READ_DATA is exercised at the end on
``read_cells`` cells per layer and compared with the golden read codes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.transactions import Pulse
from golden.twins.crossbar_addressing import LATENCY
from golden.twins.pulse_scheduler import pulses_for
from tb.cosim.run import (
    ADC_WIDTH,
    LAYERS,
    PLOG_DEPTH,
    SEQ_DEPTH,
    CosimConfig,
    Networks,
    Prefixed,
    decode_plog,
    read_cells,
    update_words,
    write_stimulus,
)
from tb.kit.runner import test_config
from tb.kit.stream import CycleCounter
from tb.models.reram_array import ArrayModel

PERIOD_NS = 10


class FastAxil:
    """Minimal AXI4-Lite manager for :class:`hw.axil_csr.AxiLiteCsr`: one Python wake-up per write.

    BREADY and RREADY are held high. A write stream presents word ``j`` with AWVALID/WVALID high
    until BVALID rises for it, then presents word ``j + 1`` in that same cycle. A read presents ARVALID
    for one cycle (ARREADY is high while RREADY is) and samples RDATA in the next. Every response
    must be OKAY.
    """

    def __init__(self, dut, prefix: str, clk):
        self.b = Prefixed(dut, prefix + "s_axil__")
        self.clk = clk
        b = self.b
        for s in ("awvalid", "wvalid", "arvalid", "awaddr", "wdata", "araddr"):
            getattr(b, s).value = 0
        b.wstrb.value = 0xF
        b.bready.value = 1
        b.rready.value = 1
        self.writes = 0
        self.reads = 0

    async def write_stream(self, addr: int, words: list[int]) -> None:
        b = self.b
        rise = RisingEdge(b.bvalid)
        wdata, bresp = b.wdata, b.bresp
        b.awaddr.value = addr
        b.awvalid.value = 1
        b.wvalid.value = 1
        for w in words:
            wdata.value = w
            await rise
            if int(bresp.value):
                raise AssertionError(f"write {addr:#x} <- {w:#010x}: response {int(bresp.value)}")
        b.awvalid.value = 0
        b.wvalid.value = 0
        self.writes += len(words)

    async def read(self, addr: int) -> int:
        b = self.b
        b.araddr.value = addr
        b.arvalid.value = 1
        await RisingEdge(self.clk)
        b.arvalid.value = 0
        await ReadOnly()
        if not int(b.rvalid.value) or int(b.rresp.value) != 0:
            raise AssertionError(f"read {addr:#x}: rvalid {int(b.rvalid.value)} rresp {int(b.rresp.value)}")
        v = int(b.rdata.value)
        await RisingEdge(self.clk)
        self.reads += 1
        return v

    async def poll_clear(self, addr: int, bit: int, limit: int = 100_000) -> int:
        """Read ``addr`` until bit ``bit`` is 0; returns the number of reads."""
        for n in range(1, limit + 1):
            if not (await self.read(addr) >> bit) & 1:
                return n
        raise AssertionError(f"bit {bit} of {addr:#x} stayed set for {limit} reads")


class Sequencer:
    """Python side of :class:`tb.cosim.run.AxilSequencer`: one wake-up per batch of ``SEQ_DEPTH`` words
    (the last batch of a sample also polls STATUS.BUSY in hardware)."""

    def __init__(self, port, addr: int, poll_addr: int, on_batch=None):
        self.p = port
        self.on_batch = on_batch      # called after every batch (drains the pulse log: no ring overflow)
        self.done = RisingEdge(port.seq__done)
        self.batch = 0
        self.batches = 0
        port.seq__addr.value = addr
        port.seq__poll_addr.value = poll_addr
        port.seq__batch.value = 0
        port.seq__n.value = 0
        port.seq__poll.value = 0
        port.seq__words.value = 0

    async def run(self, words: list[int]) -> None:
        p = self.p
        for j in range(0, len(words), SEQ_DEPTH):
            chunk = words[j:j + SEQ_DEPTH]
            p.seq__words.value = int.from_bytes(np.asarray(chunk, dtype="<u4").tobytes(), "little")
            p.seq__n.value = len(chunk)
            p.seq__poll.value = int(j + SEQ_DEPTH >= len(words))
            self.batch = (self.batch + 1) & 0xFF
            p.seq__batch.value = self.batch
            self.batches += 1
            await self.done
            if self.on_batch is not None:
                self.on_batch()


def drain_plog(port, model: ArrayModel, rp: int, width: int, at_least: int = 1) -> int:
    """Apply the pulses logged by the port's :class:`tb.cosim.run.PulseLogger` since entry ``rp`` to the
    array model (its CrossbarArray and pulse list, violations as the model would record them), if
    there are at least ``at_least``; returns the new read pointer."""
    wp = int(port.plog__wp.value)
    if wp - rp < at_least:
        return rp
    for e in decode_plog(int(port.plog__entries.value), wp, rp):
        c = e["cycle"] - 1 - model.latency        # the CycleCounter's cycle of the rising edge
        if e["err_lines"] or e["err_set_reset"] or e["err_read"]:
            model.violations.append(f"cycle {c}: line check failed {e}")
        if e["width"] != width:
            model.violations.append(f"cycle {c}: pulse width {e['width']}, expected {width}")
        if not e["err_lines"] and e["row"] < model.array.rows and e["col"] < model.array.phys_cols:
            model.array.pulse(e["row"], e["col"], e["pol"])
            model.pulses.append(Pulse(c, e["row"], e["col"], e["pol"]))
    return wp


def _progress(path: str | None, done: int, total: int) -> None:
    if path:
        Path(path).write_text(f"{done} {total}\n")


@cocotb.test()
async def cosim_training(dut):
    """Train the digits MLP for ``samples`` samples through both accelerators; compare everything."""
    tc = test_config()
    cfg = CosimConfig(**tc.get("cosim", {}))
    progress = tc.get("progress_file")
    drop = tc.get("drop_word")        # [sample, layer]: lose one UPDATE word (negative test)
    t_setup = time.perf_counter()
    nets = Networks(cfg)
    params = nets.params
    maps = [accelerator_register_map(p, fifo_depth=16, adc_width=ADC_WIDTH) for p in params]
    upd_addr = [m["update"].addr for m in maps]
    st_addr = [m["status"].addr for m in maps]
    busy_bit = maps[0]["status"].field("busy").offset
    assert all(m["status"].field("busy").offset == busy_bit for m in maps)

    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    ports = [Prefixed(dut, f"{name}__") for name in LAYERS]
    for p in ports:
        p.adc.value = 0
    bus = [FastAxil(dut, f"{name}__", dut.clk) for name in LAYERS]
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    batch_mode = tc.get("driver", "batch") == "batch"
    rp = [0, 0]

    def drainer(k: int, at_least: int = 1):
        def drain() -> None:
            rp[k] = drain_plog(ports[k], models[k], rp[k], params[k].timing.width, at_least)
        return drain

    seqs = [Sequencer(p, upd_addr[k], st_addr[k], on_batch=drainer(k, PLOG_DEPTH // 2)) for k, p in enumerate(ports)]
    for p in ports:
        p.seq_en.value = int(batch_mode)
    counter = CycleCounter(dut.clk, period=PERIOD_NS).start()
    xas = nets.arrays()
    models = [ArrayModel(p, xa, counter=counter, latency=LATENCY) for p, xa in zip(ports, xas)]
    if not batch_mode:
        for mdl in models:
            mdl.start()
    setup_s = time.perf_counter() - t_setup

    stimulus: list[list[list[int]]] = []
    pulse_mm, req_mm, requests, polls = 0, 0, 0, 0
    first_mm: list[str] = []
    seen = [0, 0]
    host_s = host_cpu = 0.0
    c0 = counter.cycle
    t0 = time.perf_counter()
    p0 = time.process_time()
    prof = None
    if tc.get("profile"):
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    for n in range(cfg.samples):
        th, tp = time.perf_counter(), time.process_time()
        nets.load_host(xas)
        hreq, greq, gprog = nets.step(n)
        sent = hreq
        if drop is not None and drop[0] == n and gprog[drop[1]]:
            # fault injection (tests): the request behind the layer's first golden pulse is lost
            pr = gprog[drop[1]][0]
            sent = [list(r) for r in hreq]
            sent[drop[1]] = [r for r in hreq[drop[1]] if (r.row, r.col) != (pr.row, pr.col)]
        words = [update_words(p, r) for p, r in zip(params, sent)]
        stimulus.append(words)
        for layer in range(len(LAYERS)):
            if hreq[layer] != greq[layer]:
                req_mm += 1
                first_mm.append(f"sample {n} {LAYERS[layer]}: host requests differ from the golden's")
        host_s += time.perf_counter() - th
        host_cpu += time.process_time() - tp

        if batch_mode:
            tasks = [cocotb.start_soon(seqs[k].run(words[k])) for k in range(len(LAYERS))]
            for t in tasks:
                await t
        else:
            tasks = [cocotb.start_soon(bus[k].write_stream(upd_addr[k], words[k])) for k in range(len(LAYERS))]
            for t in tasks:
                await t
            for k in range(len(LAYERS)):
                polls += await bus[k].poll_clear(st_addr[k], busy_bit)

        th, tp = time.perf_counter(), time.process_time()
        if batch_mode:   # (already drained after each batch; a no-op unless pulses came later)
            for k in range(len(LAYERS)):
                drainer(k)()
        for k, (p, mdl) in enumerate(zip(params, models)):
            got = mdl.pulses[seen[k]:]
            seen[k] = len(mdl.pulses)
            want = []
            for pr in gprog[k]:
                ps = [(q.cycle, q.row, q.phys_col, q.polarity) for q in pulses_for(p, pr)]
                want.append(ps)
            flat = [w for ps in want for w in ps]
            bad = len(got) != len(flat)
            i = 0
            for ps in want:
                if bad:
                    break
                base_w, base_g = ps[0][0], got[i].cycle
                for w in ps:
                    g = got[i]
                    if (g.row, g.phys_col, g.polarity) != w[1:] or g.cycle - base_g != w[0] - base_w:
                        bad = True
                        first_mm.append(f"sample {n} {LAYERS[k]} pulse {i}: got {g}, want {w} "
                                        f"(cycle offset in its request {g.cycle - base_g} vs {w[0] - base_w})")
                        break
                    i += 1
            if bad:
                pulse_mm += max(1, abs(len(got) - len(flat)))
                if len(got) != len(flat):
                    first_mm.append(f"sample {n} {LAYERS[k]}: {len(got)} pulses, golden {len(flat)}")
        host_s += time.perf_counter() - th
        host_cpu += time.process_time() - tp
        if progress and (n % max(1, cfg.samples // 100) == 0 or n == cfg.samples - 1):
            _progress(progress, n + 1, cfg.samples)
    train_wall = time.perf_counter() - t0
    train_cpu = time.process_time() - p0
    if prof is not None:
        prof.disable()
        prof.dump_stats(tc["profile"])
    cycles = counter.cycle - c0

    # --- conductances, pulse counters, line invariants ----------------------------------------------------
    g_mm = 0
    for arr, xa in zip(nets.golden.layers, xas):
        sl = slice(arr.id_base, arr.id_base + arr.n_devices)
        g_mm += int(np.count_nonzero(xa.g_flat != nets.golden.store.g[sl]))
        g_mm += int(np.count_nonzero(xa.k != nets.golden.store.k[sl]))
    viol = 0
    for p, mdl in zip(params, models):
        mdl.check_windows(width=p.timing.width)
        viol += len(mdl.violations)
        first_mm += mdl.violations[:3]

    for p in ports:
        p.seq_en.value = 0
    if batch_mode:
        for mdl in models:   # the read-back below goes through the array model's read path
            mdl.start()
    # --- counters ------------------------------------------------------------------------------------------
    cnt_mm = 0
    n_pulses = [len(m.pulses) for m in models]
    for k, m in enumerate(maps):
        pc = await bus[k].read(m["pulse_count"].addr)
        rc = await bus[k].read(m["request_count"].addr)
        want_rc = sum(sum(1 for w in s[k] if not (w >> 31) & 1) for s in stimulus)
        if pc != n_pulses[k] or rc != want_rc:
            cnt_mm += 1
            first_mm.append(f"{LAYERS[k]}: PULSE_COUNT {pc} (array saw {n_pulses[k]}), REQUEST_COUNT {rc} "
                            f"(sent {want_rc})")
        requests += rc

    # --- read back through READ_REQ / READ_DATA --------------------------------------------------------------
    rd_mm, n_reads = 0, 0
    model = nets.golden.model
    for k, (p, m, arr) in enumerate(zip(params, maps, nets.golden.layers)):
        rreq, rdat = m["read_req"], m["read_data"]
        for row, pc in read_cells(p, cfg.read_cells):
            await bus[k].write_stream(rreq.addr, [rreq.encode(row=row, phys_col=pc)])
            while True:
                f = rdat.decode(await bus[k].read(rdat.addr))
                if f["valid"]:
                    break
            dev = row * p.phys_cols + pc
            gid = arr.id_base + dev
            r_idx = int(xas[k].r[dev]) - 1          # the array model counted this read already
            g_read = model.read(nets.golden.store.g[gid:gid + 1], np.array([gid], dtype=np.uint64),
                                np.array([r_idx], dtype=np.uint64))[0]
            code = xas[k].adc_code(float(g_read))
            n_reads += 1
            if f["data"] != code or f["err"]:
                rd_mm += 1
                first_mm.append(f"{LAYERS[k]} read ({row}, {pc}): READ_DATA {f}, golden code {code}")

    # --- accuracy ------------------------------------------------------------------------------------------
    nets.load_host(xas)
    acc, gacc = nets.accuracy(nets.host), nets.accuracy(nets.golden)
    mism = pulse_mm + req_mm + g_mm + rd_mm + cnt_mm + viol + int(acc != gacc)
    sim_s = train_wall - host_s
    res = {
        "samples": cfg.samples, "network": f"{nets.data.n_inputs}-{cfg.hidden}-{nets.data.n_classes}",
        "devices": cfg.devices, "seed": cfg.seed, "lr": cfg.lr,
        "requests": int(requests), "pulses": int(sum(n_pulses)), "pulses_per_layer": n_pulses,
        "golden_pulses": int(sum(a.pulse_total for a in nets.golden.layers)) - nets.program_pulses,
        "cycles": int(cycles), "axi_writes": int(sum(b.writes for b in bus)), "status_polls": int(polls),
        "reads": n_reads,
        "mismatches": int(mism), "pulse_mismatches": int(pulse_mm), "request_mismatches": int(req_mm),
        "conductance_mismatches": int(g_mm), "read_mismatches": int(rd_mm), "counter_mismatches": int(cnt_mm),
        "violations": int(viol), "accuracy": acc, "golden_accuracy": gacc, "first_mismatches": first_mm[:10],
        "wall_seconds": train_wall, "host_seconds": host_s, "sim_seconds": sim_s, "setup_seconds": setup_s,
        "cpu_seconds": train_cpu, "host_cpu_seconds": host_cpu, "sim_cpu_seconds": train_cpu - host_cpu,
        "cycles_per_second": cycles / sim_s if sim_s > 0 else 0.0,
        "samples_per_second": cfg.samples / sim_s if sim_s > 0 else 0.0,
        "end_to_end_samples_per_second": cfg.samples / train_wall,
        "addresses": {"update": upd_addr, "status": st_addr, "busy_bit": busy_bit},
        "driver": "batch" if batch_mode else "python", "batches": int(sum(q.batches for q in seqs)),
    }
    if tc.get("stimulus"):
        write_stimulus(Path(tc["stimulus"]), {"update": upd_addr[0], "status": st_addr[0], "busy_bit": busy_bit,
                                              "seq_depth": SEQ_DEPTH, "mode": int(batch_mode)}, stimulus)
        assert upd_addr[0] == upd_addr[1] and st_addr[0] == st_addr[1]
        Path(tc["stimulus"]).with_suffix(".pulses.txt").write_text(
            "\n".join(" ".join(f"{q.cycle + LATENCY - c0} {q.row} {q.phys_col} {q.polarity}" for q in m.pulses)
                      for m in models) + "\n")
    if tc.get("result"):
        Path(tc["result"]).write_text(json.dumps(res, indent=2))
    dut._log.info(json.dumps({k: v for k, v in res.items() if k != "first_mismatches"}))
    assert mism == 0, f"seed {cfg.seed}: {mism} mismatches; first: {first_mm[:5]}"
