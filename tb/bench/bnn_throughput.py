"""BNN inference throughput of the BnnLayerEngine on the paper's 784-1025-1025-1025-10 network, from
the engine's golden cycle model, next to the sense-amplifier-clock bound.

    python -m tb.bench.bnn_throughput [--bank 3] [--fmax-mhz 103.1] [--sa-clock-ns 10]

The layers run one after the other on the engine (``golden.bnn.throughput``); images/s are at the
given clock (default: the ULX3S post-route Fmax of the bnn_layer_engine block, docs/RESULTS.md
"### FPGA"). The bound is one conversion of ``bank`` neurons per SA clock
(:func:`golden.bnn.throughput.sa_clock_bound`).
"""
from __future__ import annotations

import argparse
from dataclasses import replace

from golden.bnn.throughput import PAPER_SIZES, engine_cycles_per_image, sa_clock_bound
from golden.spec.bnn_datapath_params import BnnHwParams

#: ULX3S post-route Fmax of the bnn_layer_engine block (MHz), docs/RESULTS.md "### FPGA".
ULX3S_BNN_FMAX_MHZ = 103.1


def configurations(bank: int) -> list[tuple[str, BnnHwParams, bool]]:
    """(label, engine parameters, analog) of the benchmarked runs."""
    base = BnnHwParams(bank=bank)
    ones = replace(base, **dict.fromkeys(("precharge", "input", "evaluate", "sense", "readout", "reset"), 1))
    return [
        (f"analog, K = {bank}, phase lengths {base.phase_lengths}", base, True),
        (f"analog, K = {bank}, phase lengths {ones.phase_lengths}", ones, True),
        (f"digital, read width {base.read_width}", base, False),
    ]


def measure(bank: int = 3, fmax_mhz: float = ULX3S_BNN_FMAX_MHZ, sa_clock_ns: float = 10.0) -> list[dict]:
    bound = sa_clock_bound(PAPER_SIZES, bank, sa_clock_ns)
    out = []
    for label, hw, analog in configurations(bank):
        total, per = engine_cycles_per_image(PAPER_SIZES, hw, analog)
        out.append({"run": label, "cycles_per_image": total, "per_layer": per,
                    "images_per_s": fmax_mhz * 1e6 / total, "fmax_mhz": fmax_mhz,
                    "bound_conversions": bound.conversions, "bound_images_per_s": bound.images_per_s,
                    "ratio_to_bound": bound.images_per_s / (fmax_mhz * 1e6 / total)})
    return out


def rows() -> list[tuple[str, str, str]]:
    """`make bench` rows: cycles per image and images/s per run, and the bound."""
    res = measure()
    b = res[0]
    out = [("SA-clock bound (K = 3, 10 ns SA clock)", f"{b['bound_images_per_s'] / 1e3:.1f}k img/s",
            f"{b['bound_conversions']} conversions per image")]
    for r in res:
        out.append((r["run"], f"{r['images_per_s'] / 1e3:.2f}k img/s",
                    (f"{r['cycles_per_image']:.0f} cycles/image at {r['fmax_mhz']} MHz, "
                     f"{r['ratio_to_bound']:.2f}x below the bound")))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bank", type=int, default=3)
    ap.add_argument("--fmax-mhz", type=float, default=ULX3S_BNN_FMAX_MHZ)
    ap.add_argument("--sa-clock-ns", type=float, default=10.0)
    args = ap.parse_args(argv)
    res = measure(args.bank, args.fmax_mhz, args.sa_clock_ns)
    b = res[0]
    print(f"SA-clock bound: {b['bound_conversions']} conversions per image x {args.sa_clock_ns} ns = "
          f"{b['bound_images_per_s']:,.0f} images/s")
    print("| run | cycles / image (layers) | images/s at Fmax | bound / achieved |")
    print("|---|---|---|---|")
    for r in res:
        layers = " + ".join(f"{v:.0f}" for v in r["per_layer"])
        print(f"| {r['run']} | {r['cycles_per_image']:,.0f} ({layers}) | {r['images_per_s']:,.0f} at "
              f"{r['fmax_mhz']} MHz | {r['ratio_to_bound']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
