"""BNN inference throughput of the BnnNetworkEngine on the paper's 784-1025-1025-1025-10 network (one
image in, its class out, the hidden layers time-multiplexed through one layer engine), next to the
sense-amplifier-clock bound, with the energy per image and the board resources.

    python -m tb.bench.bnn_throughput [--bank 3] [--fmax-mhz F] [--sa-clock-ns 10]

* **Cycles per image**: the closed form of the network engine's golden cycle model
  (:func:`golden.bnn.throughput.network_cycles`), checked against the cycle model itself
  (:class:`golden.twins.bnn_network_engine.BnnNetworkEngineModel`, two images back to back) in the row
  "closed form vs cycle model". Engines as ``reram-accel cosim --bnn-net mnist`` builds them: K = 3
  neurons per word line, **full-row digital reads** (one read of a neuron's whole row: 1127 bridges in
  the hidden layers, 1025 in the output layer), the output layer read digitally with the on-chip argmax
  in both modes. The rows with 32-bridge reads are the preset before full-row reads (33-36 reads per
  neuron).
* **Images/s** at the Fmax of the accelerator top on the ULX3S from the last board build
  (``build/boards/ulx3s.json``, ``make board``); without a readable build the recorded
  :data:`FALLBACK_FMAX_MHZ` is used and the note says so. The board build's top carries the ``[bnn]``
  layer of ``boards/ulx3s.toml`` (a BnnLayerEngine), not the network engine: the network engine has no
  board build of its own yet; its hidden engine is that same BnnLayerEngine with the same
  SenseAmpSequencer, where the top's critical path lies, so the top's Fmax is the estimate used.
* **SA-clock bound**: one conversion of K neurons per SA clock (10 ns), ``sum_l ceil(M_l / K)`` =
  1030 conversions per image (:func:`golden.bnn.throughput.sa_clock_bound`); the ratio is bound
  images/s over achieved images/s.
* **Energy per image** (analog rows): :func:`golden.bnn.energy.network_energy`, the 22 nm projection of
  the array and its analog periphery: per neuron evaluation, every bridge's DC current during the read
  pulse (10 % of the SA clock, at least 0.5 ns), the BL/BLb and word-line charge, the source-line
  inverter and the neuron's unit capacitor, plus one SA decision and the neuron's digital periphery;
  the output layer is counted the same way without bias cells. Its SA clock is the conversion interval
  of the run at Fmax (longest phase x clock period), so a longer-held word line costs bridge current.
  Not counted: the engine's digital logic (popcount, sequencer, FIFOs, activation register), the clock
  tree, the host interface, the FPGA.
* **Resources**: LUT/FF/BRAM of the top and of the BNN engine per board, from the board builds'
  JSON when present (``block`` = the block alone, ``board`` = with the board harness).

Where the gap to the bound comes from (default phase lengths (2, 1, 2, 1, 1, 1)): the pipelined
sequencer completes one conversion per *longest* phase, here 2 cycles (precharge and evaluate; the
evaluate phase holds the word line for 2 cycles), so each hidden pass takes 2 x 342 cycles + 9 of
fill and drain: at this phase setting 2x is structural before anything else, and the clock (a
106.6 MHz cycle is 9.4 ns against the 10 ns SA clock) is what keeps the run just inside 2x. On top of
it: the output layer's digital read (full rows: 10 reads + 11 cycles of read latency, popcount and
argmax; with 32-bridge reads 10 x 33 reads, 341 cycles, 14 % of the image) and the per-pass fill/drain
(3 x 9 cycles, 1 %). Overlapping the next layer's first requests with the previous layer's drain is
not possible within an image (every neuron of layer l+1 needs all of layer l's outputs) and saves at
most the 27 fill cycles. 1-cycle phases through the phase registers (BNN_PHASE, at run time) bring
the run near the bound.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from golden.bnn.energy import network_energy
from golden.bnn.model_params import n_bias_cells
from golden.bnn.throughput import (
    PAPER_SIZES,
    network_cycles,
    network_cycles_model,
    sa_clock_bound,
)
from golden.spec.bnn_datapath_params import MAX_READ_WIDTH, PHASES, BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams
from tb.bench import board_builds
from tb.bench.board_builds import board_results, fmax_target, positive_number, top_fmax_of

#: The ULX3S post-route Fmax of the accelerator top (MHz) recorded in docs/RESULTS.md ("### FPGA", final
#: tree of the last round), used when no board build can be read.
FALLBACK_FMAX_MHZ = 96.0
#: Blocks whose board resources the bench lists (the top and the BNN engines).
RESOURCE_BLOCKS = ("accelerator", "bnn_layer_engine", "bnn_network_engine")
#: The boards whose builds the bench reads (their Fmax targets: ``[board] target_mhz`` of each TOML).
BOARDS = ("ulx3s", "icebreaker")


def top_fmax(path: Path | None = None) -> tuple[float, str]:
    """(MHz, where from): the ULX3S accelerator top's post-route Fmax of the last board build, else
    :data:`FALLBACK_FMAX_MHZ` with a note saying there is no usable build."""
    path = Path(path) if path is not None else board_builds.BOARDS_DIR / "ulx3s.json"
    f = top_fmax_of(path)
    if f is not None:
        return f, "ULX3S accelerator top, last make board"
    return FALLBACK_FMAX_MHZ, (f"no usable ULX3S board build ({path.name}): the recorded "
                               f"{FALLBACK_FMAX_MHZ} MHz of docs/RESULTS.md")


#: Digital read width of the paper network's build: full rows (``read_lanes = min(read_width, cells)``
#: = the row), as ``reram-accel cosim --bnn-net mnist`` builds it.
PAPER_READ_WIDTH = MAX_READ_WIDTH
#: The read width of the preset before full-row reads (a neuron's row in 33-36 reads).
NARROW_READ_WIDTH = 32


def paper_net(bank: int = 3, **layer) -> BnnNetHwParams:
    """The paper network's build (engines of ``reram-accel cosim --bnn-net mnist``: full-row reads;
    ``layer`` overrides the engines' common parameters, e.g. phase lengths or ``read_width``)."""
    base = BnnHwParams(bank=1, neurons=2, read_width=PAPER_READ_WIDTH, out_fifo=8)
    bias = tuple(n_bias_cells(n) for n in PAPER_SIZES[:-2])        # the trained network's: 79, 102, 102
    return BnnNetHwParams(sizes=PAPER_SIZES, bias_cells=bias, bank=bank, bank_out=3, layer=replace(base, **layer))


def configurations(bank: int = 3) -> list[tuple[str, BnnNetHwParams, bool]]:
    """(label, network build, analog) of the benchmarked runs."""
    base = paper_net(bank)
    ones = paper_net(bank, **dict.fromkeys(PHASES, 1))
    narrow = paper_net(bank, read_width=NARROW_READ_WIDTH)
    return [
        (f"analog, K = {bank}, phase lengths {base.layer.phase_lengths}", base, True),
        (f"analog, K = {bank}, phase lengths {ones.layer.phase_lengths}", ones, True),
        ("digital, full-row reads (one read per neuron)", base, False),
        (f"analog, K = {bank}, phase lengths {base.layer.phase_lengths}, read width {NARROW_READ_WIDTH}", narrow, True),
        (f"digital, read width {NARROW_READ_WIDTH}", narrow, False),
    ]


def measure(bank: int = 3, fmax_mhz: float | None = None, sa_clock_ns: float = 10.0) -> dict:
    """Every number of the section: runs, bound, the closed-form check, Fmax and resources."""
    fsrc = "given"
    if fmax_mhz is None:
        fmax_mhz, fsrc = top_fmax()
    bound = sa_clock_bound(PAPER_SIZES, bank, sa_clock_ns)
    runs = []
    for label, net, analog in configurations(bank):
        c = network_cycles(net, analog)
        rate = fmax_mhz * 1e6 / c.total
        run = {"run": label, "analog": analog, "cycles": c, "images_per_s": rate,
               "ratio_to_bound": bound.images_per_s / rate}
        if analog:
            interval_ns = max(net.layer.phase_lengths) * 1e3 / fmax_mhz
            e = network_energy(list(PAPER_SIZES), min(100.0, max(1.0, interval_ns)))
            run.update(energy_j=e["e_inference"], energy_sa_clock_ns=interval_ns, tops_per_w=e["tops_per_w"])
        runs.append(run)
    checks = []
    for label, net, analog in configurations(bank)[:3]:
        closed, model = network_cycles(net, analog), network_cycles_model(net, analog, images=2)
        checks.append({"run": label, "closed": closed, "model": model, "equal": closed == model})
    full = network_cycles(paper_net(bank), False).total     # one read per neuron
    resources = {board: [r for r in board_results(board_builds.BOARDS_DIR / f"{board}.json")
                         if r.get("block") in RESOURCE_BLOCKS]
                 for board in BOARDS}
    return {"bank": bank, "fmax_mhz": fmax_mhz, "fmax_source": fsrc, "bound": bound, "runs": runs,
            "checks": checks, "full_row_cycles": full, "resources": resources,
            "energy_10ns_j": network_energy(list(PAPER_SIZES), sa_clock_ns)["e_inference"]}


def _passes(c) -> str:
    return " + ".join(f"{v:,}" for v in c.hidden) + f" + output {c.output:,} + 1"


def _res(r: dict) -> str:
    blk = (f"block {r['block_lut']} LUT / {r['block_ff']} FF / {r['block_bram']} BRAM; "
           if r.get("block_lut") is not None else "block alone not reported; ")
    return blk + f"on board {r.get('lut')} LUT / {r.get('ff')} FF / {r.get('bram')} BRAM"


def resource_rows(resources: dict) -> list[tuple[str, str, str]]:
    out = []
    for board, entries in resources.items():
        if not entries:
            out.append((f"{board}: resources", "no build", (f"no build/boards/{board}.json entry for "
                        f"{', '.join(RESOURCE_BLOCKS)} (make board)")))
        for r in entries:
            f, target = positive_number(r.get("fmax_mhz")), fmax_target(board, str(r.get("block")))
            fs = f"{f:.1f} MHz" if f is not None else "Fmax ?"
            met = f is not None and target is not None and f >= target
            out.append((f"{board}: {r.get('block')}", fs,
                        f"{_res(r)}; BNN path target {target:g} MHz {'met' if met else 'missed'}"))
    return out


def rows() -> list[tuple[str, str, str]]:
    """`make bench` rows: the bound, cycles/images/s/energy per run, the closed-form check, resources."""
    res = measure()
    b, f = res["bound"], res["fmax_mhz"]
    narrow = paper_net(res["bank"], read_width=NARROW_READ_WIDTH)
    out = [(f"SA-clock bound (K = {res['bank']}, {b.sa_clock_ns:g} ns SA clock)", f"{b.images_per_s / 1e3:.1f}k img/s",
            (f"{b.conversions} conversions per image; energy model at that SA clock "
            f"{res['energy_10ns_j'] * 1e9:.1f} nJ/image"))]
    for r in res["runs"]:
        c = r["cycles"]
        out.append((f"network engine, {r['run']}", f"{r['images_per_s'] / 1e3:.2f}k img/s",
                    (f"{c.total:,} cycles/image ({_passes(c)}) at {f:.1f} MHz, {r['ratio_to_bound']:.2f}x "
                    f"below the bound")))
        if r["analog"] and r["cycles"].output != network_cycles(narrow, True).output:   # energy: once per phase set
            out.append((f"energy per image, {r['run']}", f"{r['energy_j'] * 1e9:.1f} nJ",
                        (f"energy model (array + analog periphery, 22 nm) at the conversion interval "
                        f"{r['energy_sa_clock_ns']:.1f} ns; {r['tops_per_w']:.0f} TOPS/W")))
    net = paper_net(res["bank"])
    out.append(("read width of the build", f"{net.hidden_hw.read_lanes} / {net.out_hw.read_lanes} bridges",
                (f"full rows, one read per neuron (hidden / output layer; read_width {net.layer.read_width} "
                 f">= cells); the rows marked read width {NARROW_READ_WIDTH}: "
                 f"{paper_net(res['bank'], read_width=NARROW_READ_WIDTH).hidden_hw.reads_per_neuron} / "
                 f"{paper_net(res['bank'], read_width=NARROW_READ_WIDTH).out_hw.reads_per_neuron} reads per neuron")))
    out.append(("closed form vs cycle model", " / ".join("=" if c["equal"] else "DIFFERS" for c in res["checks"]),
                "cycles per image, two images back to back: " + "; ".join(
                    f"{c['run']}: {c['closed'].total:,} / {c['model'].total:,}" for c in res["checks"])))
    out += resource_rows(res["resources"])
    out.append(("clock", f"{f:.1f} MHz", res["fmax_source"]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bank", type=int, default=3)
    ap.add_argument("--fmax-mhz", type=float, default=None, help="default: the ULX3S top of the last board build")
    ap.add_argument("--sa-clock-ns", type=float, default=10.0)
    args = ap.parse_args(argv)
    res = measure(args.bank, args.fmax_mhz, args.sa_clock_ns)
    b, f = res["bound"], res["fmax_mhz"]
    print(f"SA-clock bound: {b.conversions} conversions per image x {args.sa_clock_ns} ns = "
          f"{b.images_per_s:,.0f} images/s; clock {f} MHz ({res['fmax_source']})")
    print("| run | cycles / image (passes) | images/s | bound / achieved | energy / image |")
    print("|---|---|---|---|---|")
    for r in res["runs"]:
        e = f"{r['energy_j'] * 1e9:.1f} nJ" if r["analog"] else "-"
        print(f"| {r['run']} | {r['cycles'].total:,} ({_passes(r['cycles'])}) | {r['images_per_s']:,.0f} | "
              f"{r['ratio_to_bound']:.2f} | {e} |")
    for c in res["checks"]:
        print(f"closed form vs cycle model, {c['run']}: {c['closed']} / {c['model']}")
    print(f"full-row digital reads: {res['full_row_cycles']:,} cycles/image")
    for a, v, n in resource_rows(res["resources"]):
        print(f"{a}: {v}; {n}")
    return 0 if all(c["equal"] for c in res["checks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
