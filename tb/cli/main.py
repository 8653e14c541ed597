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
import warnings

from golden.spec.checks import ConfigError, DataFileError, PlausibilityWarning
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


def _show_warning(default):
    """A data warning (:class:`PlausibilityWarning`) as one line ``reram-accel: warning: ...``;
    other warnings as Python shows them."""
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, PlausibilityWarning):
            print(f"reram-accel: warning: {message}", file=sys.stderr, flush=True)
        else:
            default(message, category, filename, lineno, file, line)
    return show


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. Options are parsed and range-checked first
    (:mod:`tb.cli.arguments`); a bad option, configuration or data file gives exit code 2 and one
    message (a data file's with ``file:line:column``), never a traceback."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:          # argparse has printed the usage and the error (or --help)
        return e.code if isinstance(e.code, int) else 2
    try:
        with warnings.catch_warnings():     # restores the filters and showwarning afterwards
            warnings.simplefilter("always", PlausibilityWarning)
            warnings.showwarning = _show_warning(warnings.showwarning)
            return int(args._run(args) or 0)
    except DataFileError as e:
        print(f"reram-accel: {e}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"reram-accel: configuration error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:      # SIGINT, or SIGTERM inside tb.scale.signals.stop_on_signals
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"reram-accel: stopped by {signal.Signals(signum).name}; finished runs are kept", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
