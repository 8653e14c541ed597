"""The MVM read path through the accelerator top: stimulus, golden expectation and array-side monitor,
shared by the Amaranth-simulator test and the cocotb co-simulation.

A case (:func:`make_case`) holds random conductance codes of one layer array (the whole training
array: R synapse rows x C columns x D slots), runtime read settings (the CFG registers: settle,
conversion time, the two full scales, g_ref, the two scalings), and frames: per training sample ``t``
a forward frame (R unsigned codes) and a transposed frame (C signed codes), both read with sample
index ``t`` as golden's hardware-exact training does. The expected y of every frame is golden's
:func:`golden.mvm.read_path.forward_read` / :func:`~golden.mvm.read_path.transposed_read` with read
noise on.

The array side (:class:`ArraySide`) closes the top's MVM read port with the behavioural array
(:class:`tb.models.mvm_array.MvmArrayPort`, the sample index set by the testbench from the frame
order) and watches the programming port at the same time: a cycle with ``mvm_read`` high and any
programming line active (``write``, a word line, ``bl_set``, ``sl_reset`` or the cell-read strobe
``read``) is an *overlap*. Programming pulses go to a separate log: the conductances the MVM reads see
are the ones the case was built with (the pulses' targets and counts are checked against the
PROGRAM pushes instead).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from golden.mvm.read_path import ReadNoise, forward_read, transposed_read
from golden.spec.mvm_geometry import MvmEngineShape, engine_shape
from golden.spec.mvm_params import MvmParams
from golden.spec.params import AccelParams
from golden.twins.mvm_read_engine import frame_words
from tb.models.mvm_array import MvmArray, MvmArrayPort


def mvm_top_params(differential: bool, rows: int = 9, cols: int = 6, devices: int = 2, *,
                   input_width: int = 4, adc_width: int = 6, cols_per_adc: int = 4,
                   out_width: int = 16) -> AccelParams:
    """A small accelerator with an ``[mvm]`` section (default: 9 x 6 synapses, N = 2)."""
    return AccelParams().with_(array={"rows": rows, "cols": cols},
                               synapse={"devices": devices, "increment": 1, "differential": differential},
                               mvm={"input_width": input_width, "adc_width": adc_width,
                                    "cols_per_adc": cols_per_adc, "out_width": out_width})


@dataclass(frozen=True)
class MvmFrame:
    """One input frame: its mode, its codes and words, the sample index its reads use, the expected y."""

    transposed: bool
    t: int
    codes: tuple[int, ...]
    words: tuple[int, ...]
    y: tuple[int, ...]


@dataclass
class MvmTopCase:
    """Everything one run needs (see the module docstring)."""

    params: AccelParams
    shape: MvmEngineShape
    mv: MvmParams                   # the runtime settings as golden's parameters
    g: np.ndarray
    g_ref: int
    noise: ReadNoise
    settle: int
    conv: int
    frames: list[MvmFrame]
    seed: int

    @property
    def devices(self) -> int:
        return self.params.synapse.devices

    def csr_writes(self) -> list[tuple[str, dict]]:
        """(register, fields) of the CFG registers, in the order the host writes them."""
        mv = self.mv
        return [("mvm_timing", {"settle": self.settle, "conv": self.conv}),
                ("mvm_fs_fwd", {"value": mv.adc_full_scale & 0xFFFFFFFF}),
                ("mvm_fs_tr", {"value": mv.fs_t & 0xFFFFFFFF}),
                ("mvm_g_ref", {"value": self.g_ref}),
                ("mvm_scale_fwd", {"mult": mv.scale_mult, "shift": mv.scale_shift}),
                ("mvm_scale_tr", {"mult": mv.t_scale_mult, "shift": mv.t_scale_shift})]

    def expected(self, g: np.ndarray | None = None) -> list[tuple[int, ...]]:
        """Golden's y of every frame (through ``g``, default the case's codes)."""
        g = self.g if g is None else g
        out = []
        for f in self.frames:
            fn = transposed_read if f.transposed else forward_read
            r = fn(g, np.array(f.codes), self.mv, devices=self.devices,
                   differential=self.params.synapse.differential, g_ref=self.g_ref, noise=self.noise, t=f.t)
            out.append(tuple(int(v) for v in r.y))
        return out


def make_case(params: AccelParams, seed: int, samples: int = 3, settle: int = 2, conv: int = 1,
              t0: int = 17) -> MvmTopCase:
    """Random codes, full scales around a half-driven bit plane's current, random scalings (y mostly
    inside ``out_width``), ``samples`` (forward, transposed) frame pairs with sample indices
    ``t0, t0 + 1, ..``."""
    rng = random.Random(f"mvm-top/{seed}")
    shape = engine_shape(params)
    mv0 = params.mvm
    gmax = (1 << mv0.g_bits) - 1
    g = np.array([[rng.randint(0, gmax) for _ in range(shape.phys_cols)] for _ in range(shape.rows)],
                 dtype=np.int64)
    top = mv0.adc_width + mv0.input_width + shape.slots.bit_length() + 17
    lo_sh = max(0, top - mv0.out_width - 1)
    mv = MvmParams(**{**{f: getattr(mv0, f) for f in ("input_width", "adc_width", "cols_per_adc", "g_bits",
                                                      "out_width")},
                      "adc_full_scale": max(1, shape.rows * gmax // 3 + rng.randint(-50, 50)),
                      "t_full_scale": max(1, shape.phys_cols * gmax // 3 + rng.randint(-50, 50)),
                      "scale_mult": rng.randint(1, 1 << 16), "scale_shift": rng.randint(lo_sh, lo_sh + 6),
                      "t_scale_mult": rng.randint(1, 1 << 16), "t_scale_shift": rng.randint(lo_sh, lo_sh + 6)})
    noise = ReadNoise(seed, 0.05, 3.0, array_id=1)
    case = MvmTopCase(params, shape, mv, g, rng.randint(0, gmax), noise, settle, conv, [], seed)
    b = mv.input_width
    frames = []
    for s in range(samples):
        for tr in (False, True):
            lo, hi = (-(1 << (b - 1)), (1 << (b - 1)) - 1) if tr else (0, (1 << b) - 1)
            codes = tuple(rng.randint(lo, hi) for _ in range(shape.n_in(tr)))
            frames.append(MvmFrame(tr, t0 + s, codes, tuple(frame_words(list(codes), tr, shape)), ()))
    case.frames = frames
    case.frames = [MvmFrame(f.transposed, f.t, f.codes, f.words, y) for f, y in zip(frames, case.expected())]
    return case


def random_programs(params: AccelParams, rng: random.Random, n: int) -> list[dict]:
    """PROGRAM push fields: random device, polarity and 1..3 pulses."""
    a, s = params.array, params.synapse
    return [{"row": rng.randrange(a.rows), "col": rng.randrange(a.cols), "slot": rng.randrange(s.slots),
             "polarity": rng.randint(0, 1), "count": rng.randint(1, 3)} for _ in range(n)]


@dataclass
class ArraySide:
    """The array behind the top, one :meth:`step` per cycle (simulator-independent).

    Parameters
    ----------
    case : MvmTopCase
    n_adc : int
        Converters on the MVM port (the engine's ``n_adc``).
    g : int array or None
        The codes the array holds (default the case's; a corrupted copy for the negative check).
    """

    case: MvmTopCase
    n_adc: int
    g: np.ndarray | None = None
    port: MvmArrayPort = field(init=False)
    frame: int = 0                  # frames whose reads have started
    overlaps: list[int] = field(default_factory=list)
    pulses: list[tuple[int, int, int, int]] = field(default_factory=list)   # (cycle, row, phys_col, set)
    _write: bool = False

    def __post_init__(self):
        c = self.case
        g = c.g if self.g is None else self.g
        self.port = MvmArrayPort(MvmArray(g, c.mv, c.noise), c.mv.input_width, c.params.synapse.differential,
                                 c.mv.cols_per_adc, self.n_adc, auto_t=False)

    def step(self, cycle: int, *, mvm_read: bool, transposed: bool, mvm_wl: int, mvm_bl: int, sel: int,
             write: bool, wl: int, bl_set: int, sl_reset: int, read: bool) -> int:
        """Returns ``mvm_adc_code`` for this cycle; records overlaps and pulses."""
        p = self.port
        if mvm_read and not p._was_read and p.i == 0:
            p.t = self.case.frames[self.frame].t if self.frame < len(self.case.frames) else -1
            self.frame += 1
        code = p.step(cycle, mvm_read, transposed, mvm_wl, mvm_bl, sel)
        if mvm_read and (write or wl or bl_set or sl_reset or read):
            self.overlaps.append(cycle)
        if write and not self._write:
            col = (bl_set | sl_reset).bit_length() - 1
            self.pulses.append((cycle, wl.bit_length() - 1, col, int(bool(bl_set))))
        self._write = write
        return code


def split_outputs(words: list[tuple[int, int]], out_width: int = 32) -> list[tuple[int, ...]]:
    """``m_axis_mvm`` beats ``(tdata, tlast)`` -> the y of each frame (signed 32-bit words)."""
    frames, cur = [], []
    for data, last in words:
        cur.append(data - (1 << 32) if data >> 31 else data)
        if last:
            frames.append(tuple(cur))
            cur = []
    if cur:
        frames.append(tuple(cur))
    return frames


def first_mismatch(case: MvmTopCase, got: list[tuple[int, ...]]) -> str | None:
    """None if every frame's y equals golden's, else a message naming the first difference."""
    for i, f in enumerate(case.frames):
        if i >= len(got):
            return f"frame {i} ({'transposed' if f.transposed else 'forward'}, t={f.t}): no output"
        if got[i] != f.y:
            j = next(k for k in range(max(len(got[i]), len(f.y)))
                     if k >= len(got[i]) or k >= len(f.y) or got[i][k] != f.y[k])
            return (f"frame {i} ({'transposed' if f.transposed else 'forward'}, t={f.t}): y[{j}] "
                    f"{got[i][j] if j < len(got[i]) else None} != golden {f.y[j] if j < len(f.y) else None} "
                    f"(seed {case.seed})")
    if len(got) > len(case.frames):
        return f"{len(got) - len(case.frames)} frames more than sent"
    return None


def mismatching_codes(case: MvmTopCase, got: list[tuple[int, ...]]) -> int:
    """Number of y codes that differ from golden's (missing ones count)."""
    n = 0
    for i, f in enumerate(case.frames):
        g = got[i] if i < len(got) else ()
        n += sum(1 for k, y in enumerate(f.y) if k >= len(g) or g[k] != y)
    return n


# --- cocotb: the same run under Verilator ------------------------------------------------------------
try:  # the cocotb part only loads inside a simulation
    import cocotb
    _HAVE_COCOTB = cocotb.is_simulation
except ImportError:  # pragma: no cover
    _HAVE_COCOTB = False

if _HAVE_COCOTB:
    import time

    from cocotb.triggers import ClockCycles, ReadWrite, RisingEdge
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink

    from golden.spec.params import params_from_dict
    from golden.spec.register_map.accelerator_map import accelerator_register_map
    from tb.envs.accelerator_tb import CsrHost, golden_chain, random_entries
    from tb.kit.runner import test_config
    from tb.kit.testbench import Testbench

    class MvmTopTB(Testbench):
        """The host on AXI-Lite, frames on ``s_axis_mvm``, y from ``m_axis_mvm``, and the
        :class:`ArraySide` closing both array ports from cycle 0."""

        def __init__(self, dut, cfg: dict):
            super().__init__(dut, idle=[dut.adc, dut.mvm_adc_code, dut.m_axis_mvm__tready], timed=True)
            self.cfg = cfg
            self.params = params_from_dict(cfg["params"])
            self.seed = int(cfg["seed"])
            self.case = make_case(self.params, self.seed, samples=int(cfg["samples"]),
                                  settle=int(cfg["settle"]), conv=int(cfg["conv"]), t0=int(cfg.get("t0", 17)))
            g = self.case.g.copy()
            for r, c, v in cfg.get("corrupt", ()):
                g[r, c] = v
            mvm = self.params.mvm
            self.regmap = accelerator_register_map(self.params, mvm=mvm)
            self.host = CsrHost(self.axil_master("s_axil"), self.regmap)
            n_adc = len(dut.mvm_adc_code) // mvm.adc_width
            self.side = ArraySide(self.case, n_adc, g=g)
            self.done = False

        async def array(self) -> None:
            c, dut = 0, self.dut
            while True:
                await ReadWrite()
                code = self.side.step(c, mvm_read=bool(dut.mvm_read.value),
                                      transposed=bool(dut.mvm_transposed.value), mvm_wl=int(dut.mvm_wl.value),
                                      mvm_bl=int(dut.mvm_bl.value), sel=int(dut.mvm_adc_sel.value),
                                      write=bool(dut.write.value), wl=int(dut.wl.value),
                                      bl_set=int(dut.bl_set.value), sl_reset=int(dut.sl_reset.value),
                                      read=bool(dut.read.value))
                dut.mvm_adc_code.value = code
                await RisingEdge(self.clk)
                c += 1

        async def programs(self, progs: list[dict], updates: list, rng: random.Random) -> int:
            """PROGRAM pushes (until the frames are done) and every UPDATE push (in order), interleaved
            at random; returns the number of PROGRAM pushes."""
            n, kinds = 0, ["p"] * len(progs) + ["u"] * len(updates)
            rng.shuffle(kinds)
            pi, ui = iter(progs), iter(updates)
            for kind in kinds:
                if kind == "p" and self.done:
                    continue
                await ClockCycles(self.clk, rng.randrange(1, 40))
                if kind == "p":
                    await self.host.write("program", **next(pi))
                    n += 1
                else:
                    e = next(ui)
                    await self.host.write("update", row=e.row, col=e.col, dw=e.dw, end_cycle=int(e.end_cycle),
                                          marker=int(e.marker))
            return n

    @cocotb.test()
    async def mvm_through_the_top(dut):
        """Every y against golden while PROGRAM traffic runs; no overlap; counters; with ``corrupt``
        (a changed conductance in the array model) the run must show y mismatches instead."""
        cfg = test_config()
        tb = MvmTopTB(dut, cfg)
        seed, case = tb.seed, tb.case
        dut._log.info(f"seed = {seed}")
        await tb.reset()
        cocotb.start_soon(tb.array())
        t0 = time.perf_counter()
        for name, fields in case.csr_writes():
            await tb.host.write(name, **fields)
        for name, fields in case.csr_writes():
            assert tb.regmap[name].decode(await tb.host.read(name)) == {**tb.regmap[name].decode(0), **fields}
        src = tb.axis_source("s_axis_mvm")
        sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_mvm_"), tb.clk, dut.rst, byte_lanes=1)
        rng = random.Random(f"mvm-top-cocotb/{seed}")
        sink.set_pause_generator(iter(lambda: rng.random() < 0.3, None))
        progs = random_programs(tb.params, rng, int(cfg["programs"]))
        updates = random_entries(tb.params, rng, int(cfg.get("updates", 0))) if cfg.get("updates") else []
        prog_task = cocotb.start_soon(tb.programs(progs, updates, random.Random(seed)))
        for f in case.frames:
            await src.send(AxiStreamFrame(list(f.words), tuser=int(f.transposed)))
        got = []
        for _ in case.frames:
            fr = await sink.recv()
            got.append(tuple(v - (1 << 32) if v >> 31 else v for v in fr.tdata))
        tb.done = True
        pushed = await prog_task
        await tb.host.wait_for("status", "busy", 0)
        wall = time.perf_counter() - t0
        regs = {n: await tb.host.read(n) for n in ("mvm_frame_count", "mvm_read_count", "mvm_wait_count",
                                                   "mvm_wait_cycles", "pulse_count")}
        errors = await tb.host.fields("errors")
        side = tb.side
        n_y = sum(len(f) for f in got)
        bad = mismatching_codes(case, got)
        if cfg.get("corrupt"):
            assert bad > 0, f"a corrupted conductance gave no y mismatch (seed {seed})"
            assert got == case.expected(side.port.array.g), "the corrupted array's y are not golden's for it"
            dut._log.info(f"negative check: {bad} of {n_y} y codes differ from golden with one corrupted device")
            return
        msg = first_mismatch(case, got)
        assert msg is None, msg
        assert side.overlaps == [], f"MVM reads overlapped programming in cycles {side.overlaps[:5]} (seed {seed})"
        passes = sum(case.shape.passes(f.transposed) for f in case.frames)
        assert len(side.port.reads) == passes == regs["mvm_read_count"], (passes, regs)
        assert regs["mvm_frame_count"] == len(case.frames)
        D = tb.params.synapse.slots
        chain = golden_chain(tb.params, updates)
        want = sorted([(p["row"], p["col"] * D + p["slot"], p["polarity"]) for p in progs[:pushed]
                       for _ in range(p["count"])] + [(p.row, p.phys_col, p.polarity) for p in chain.pulses])
        assert sorted(x[1:] for x in side.pulses) == want, "pulses differ from the PROGRAM pushes"
        assert regs["pulse_count"] == len(want)
        assert errors["mvm_frame"] == 0 and errors["mvm_overlap"] == 0, errors
        assert regs["mvm_wait_count"] > 0, f"no read waited for programming (seed {seed})"
        dut._log.info(f"{len(case.frames)} frames, {n_y} y codes, 0 mismatches, {passes} reads, "
                      f"{regs['mvm_wait_count']} waited for programming ({regs['mvm_wait_cycles']} cycles), "
                      f"{len(want)} pulses from {pushed} PROGRAM and {len(updates)} UPDATE pushes "
                      f"({len(chain.pulses)} from the updates), 0 overlaps, {wall:.1f} s")
