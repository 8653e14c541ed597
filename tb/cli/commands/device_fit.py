"""`reram-accel device-fit`: fit the device model to pulse-response data (CSV), or write example data."""
from __future__ import annotations

import json
from pathlib import Path

from tb.cli.arguments import OutputFile

HELP = "fit the ReRAM device model to a pulse-response CSV (device,pulse,polarity,conductance_uS)"


def add_arguments(p) -> None:
    p.add_argument("csv", type=Path, help="pulse-response data (see golden/physics/device_fit.py for the format)")
    p.add_argument("--binary", action="store_true", help="force the two-level (binary) model")
    p.add_argument("--json", type=OutputFile(), default=None, help="write the fitted DeviceParams as JSON")
    p.add_argument("--strict", action="store_true",
                   help="reject implausible data (a value decades away from the others, a fitted value outside "
                        "the model's range) instead of warning")
    p.add_argument("--write-example", action="store_true",
                   help="instead of fitting, write synthetic example data from the default preset to CSV")


def run(args) -> int:
    from golden.physics.device import RERAM_HFO2, DeviceModel
    from golden.physics.device_fit import fit, write_csv

    if args.write_example:
        write_csv(args.csv, DeviceModel(RERAM_HFO2, 0), 24, 30, 30, cycles=5,
                  header_note="SYNTHETIC example data generated from golden.physics.device.RERAM_HFO2 (seed 0),\n"
                              "24 devices x 5 cycles of 30 SET + 30 RESET pulses; NOT measured.")
        print(f"wrote {args.csv}")
        return 0
    params, report = fit(args.csv, binary=True if args.binary else None, strict=args.strict)
    print(f"fitted {report['devices']} devices, {report['transitions']} transitions "
          f"({'binary' if report['binary'] else 'analog'} model):")
    for k, v in params.to_dict().items():
        print(f"  {k:12s} {v}")
    if args.json is not None:
        args.json.write_text(json.dumps(params.to_dict(), indent=2))
        print(f"wrote {args.json}")
    return 0
