"""Cycles per frame of the MvmReadEngine for a layer, from the formulas and from the golden cycle model.

``python -m tb.bench.mvm_cycles`` prints, for the 785 x 250 MNIST hidden layer (N = 4, A = 6, b = 8,
8 lines per ADC), forward and transposed frames, non-differential and differential, two timings:
the latency from commit to the last y, the back-to-back period, and the ADC bound (conversions
only); the period is checked against the cycle model run on two frames back to back.
"""
from __future__ import annotations

import argparse

from golden.spec.handshake import always
from golden.spec.mvm_geometry import (
    conversion_bound,
    engine_shape,
    frame_cycles,
    frame_period,
    read_cycles,
)
from golden.spec.params import AccelParams
from golden.twins.mvm_read_engine import Frame, engine_cycle_model, frame_words


def rows(r: int = 785, c: int = 250, n: int = 4, a: int = 6, b: int = 8, k: int = 8,
         timings=((1, 1), (4, 6))) -> list[dict]:
    """One dict per (differential, transposed, settle, conv)."""
    out = []
    for diff in (False, True):
        p = AccelParams().with_(array={"rows": r, "cols": c},
                                synapse={"devices": n, "increment": 1, "differential": diff},
                                mvm={"input_width": b, "adc_width": a, "cols_per_adc": k})
        sh = engine_shape(p)
        for tr in (False, True):
            words = tuple(frame_words([1] * sh.n_in(tr), tr, sh))
            for settle, conv in timings:
                t = engine_cycle_model(sh, [Frame(words, tr)] * 2, lambda _t, m, _c, sh=sh: [0] * sh.n_out(m),
                                       always(), always(), None, settle=settle, conv=conv)
                model = t.words[len(words)][0] - t.words[0][0]
                period = frame_period(sh, tr, settle, conv)
                if model != period:
                    raise AssertionError(f"cycle model {model} != frame_period {period}")
                out.append({"differential": diff, "transposed": tr, "settle": settle, "conv": conv,
                            "lines": sh.lines(tr), "adcs": sh.n_adc(tr), "reads": sh.passes(tr),
                            "read_cycles": read_cycles(settle, conv, k), "load": sh.frame_length(tr),
                            "n_out": sh.n_out(tr), "latency": frame_cycles(sh, tr, settle, conv),
                            "period": period, "adc_bound": conversion_bound(sh, tr, conv)})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    print("| synapse | read | settle, conv | lines / ADCs | reads x cycles | load words | outputs | "
          "commit -> last y | period | ADC bound |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for x in rows():
        print(f"| {'diff.' if x['differential'] else 'non-diff.'} | {'transposed' if x['transposed'] else 'forward'} "
              f"| {x['settle']}, {x['conv']} | {x['lines']} / {x['adcs']} | {x['reads']} x {x['read_cycles']} "
              f"| {x['load']} | {x['n_out']} | {x['latency']} | {x['period']} | {x['adc_bound']} |")


if __name__ == "__main__":
    main()
