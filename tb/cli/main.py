"""`reram-accel` command line: one subcommand per module in :mod:`tb.cli.commands`.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``;
the subcommand name is the module name with ``_`` replaced by ``-``. Modules are discovered, so a
new command is one new file.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys

from golden.spec.params import ConfigError
from tb.cli import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reram-accel",
        description="RTL generator and bit-true verification for neural networks on ReRAM.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        p = sub.add_parser(info.name.replace("_", "-"), help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ConfigError as e:
        print(f"reram-accel: configuration error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:      # SIGINT, or SIGTERM inside tb.scale.signals.stop_on_signals
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"reram-accel: stopped by {signal.Signals(signum).name}; finished runs are kept", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
