"""Functional coverage of the cocotb testbenches: cover groups on cocotb-coverage, sampled from monitors.

Collection is off unless :func:`tb.kit.runner.run_cocotb` was called with ``RERAM_COVERAGE_DIR`` set
(``make coverage`` sets it): then the runner puts ``{"dir", "label"}`` under ``config["coverage"]``
and each environment builds its cover groups with :func:`groups_for`, samples what its monitors
observed (accepted inputs, emitted outputs, strobes, flags: the DUT's transactions, never the
stimulus the driver meant to send) and calls :meth:`Coverage.write` at the end. With collection off
every ``sample`` is a no-op, so ``make test`` pays nothing.

Item names are ``<block>.<label>.<group>.<point>``: the label is the pytest parameter id of the
test (one configuration), so bins that depend on parameters (pulse counts up to ``max_count``,
device slots) never merge across configurations; runs of one configuration with other seeds merge
bin by bin (:mod:`tb.coverage.report`). The file written per run is cocotb-coverage's YAML export.

Cycle-gap bins classify the timing a monitor saw on a stream: the number of idle cycles between
two transfers (0 = back to back). Together with the generator class the test configured
(:func:`gen_class`: always / random / burst / pattern, the classes of :mod:`golden.spec.handshake`)
they cover the backpressure patterns.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: Idle cycles between consecutive transfers of a stream: back to back, short and long gaps.
GAP_BINS = ((0, 0), (1, 1), (2, 3), (4, 15), (16, 1 << 62))
#: Generator classes of golden.spec.handshake (make_gen specs).
GEN_CLASSES = ("always", "random", "burst", "pattern")


def gen_class(spec: Any) -> str:
    """The generator class of a :func:`golden.spec.handshake.make_gen` spec."""
    if spec is None or spec == 1 or spec == 1.0:
        return "always"
    if isinstance(spec, (int, float)):
        return "random"
    return str(spec[0])


def ranges(top: int, lo: int = 1, singles: int = 4, parts: int = 3) -> list[tuple[int, int]]:
    """Bins over ``lo..top``: every value if the span is small, else ``lo..lo+singles-1`` one by
    one, ``parts`` ranges in between, and ``top-1``, ``top`` as edge bins."""
    if top - lo + 1 <= singles + 2 + parts:
        return [(v, v) for v in range(lo, top + 1)]
    out = [(v, v) for v in range(lo, lo + singles)]
    mid_lo, mid_hi = lo + singles, top - 2
    step = max(1, (mid_hi - mid_lo + 1 + parts - 1) // parts)
    for a in range(mid_lo, mid_hi + 1, step):
        out.append((a, min(a + step - 1, mid_hi)))
    return out + [(top - 1, top - 1), (top, top)]


def label(bin_: Any) -> str:
    """Printable name of a bin: ``3``, ``4..7``, ``>=16`` or the value itself."""
    if isinstance(bin_, tuple) and len(bin_) == 2 and all(isinstance(x, int) for x in bin_):
        lo, hi = bin_
        return str(lo) if lo == hi else (f">={lo}" if hi >= 1 << 40 else f"{lo}..{hi}")
    return str(bin_)


def _in_range(value: Any, bin_: Any) -> bool:
    return isinstance(value, int) and bin_[0] <= value <= bin_[1]


class CoverGroup:
    """Cover points and crosses sampled together from one kind of observed transaction.

    Parameters
    ----------
    prefix : str
        ``<block>.<label>.<group>``.
    points : dict
        Point name -> list of bins. A bin is a value (matched by equality) or an ``(lo, hi)`` integer
        range (inclusive); a point's bins are all of one kind.
    crosses : dict
        Cross name -> tuple of point names; its bins are the product of the points' bins.
    ignore : dict
        Cross name -> list of cross bins that cannot occur by construction (left out of the total).
    """

    def __init__(self, prefix: str, points: dict[str, Sequence[Any]],
                 crosses: Mapping[str, tuple[str, ...]] = MappingProxyType({}),
                 ignore: Mapping[str, list[tuple]] = MappingProxyType({})):
        from cocotb_coverage import coverage

        items = []
        for name, bins in points.items():
            bins = list(bins)
            is_range = bool(bins) and all(isinstance(b, tuple) and len(b) == 2 for b in bins)
            items.append(coverage.CoverPoint(f"{prefix}.{name}", xf=lambda d, n=name: d.get(n), bins=bins,
                                             bins_labels=[label(b) for b in bins],
                                             rel=_in_range if is_range else None))
        for name, parts in crosses.items():
            items.append(coverage.CoverCross(f"{prefix}.{name}", items=[f"{prefix}.{p}" for p in parts],
                                             ign_bins=ignore.get(name, [])))
        self._sample = coverage.coverage_section(*items)(lambda d: None)

    def sample(self, **values: Any) -> None:
        """Sample one observation; a point whose value is missing or in no bin is not hit."""
        self._sample(values)


class _Off:
    def sample(self, **values: Any) -> None:
        pass


class Coverage:
    """The cover groups of one simulation run, written to ``<dir>/<block>-<label>-<seed>.yml``.

    Parameters
    ----------
    block : str
        Toplevel name of the block.
    cfg : dict
        The test configuration; collection is on only if it has a ``coverage`` entry.
    """

    def __init__(self, block: str, cfg: dict):
        self.block = block
        opts = cfg.get("coverage")
        self.enabled = bool(opts)
        self.dir = Path(opts["dir"]) if opts else None
        self.label = opts["label"] if opts else ""
        self.seed = cfg.get("seed", 0)
        self._groups: dict[str, Any] = {}

    def group(self, name: str, points: dict[str, Sequence[Any]],
              crosses: Mapping[str, tuple[str, ...]] = MappingProxyType({}),
              ignore: Mapping[str, list[tuple]] = MappingProxyType({}), shared: bool = False):
        """The group ``name`` (created on first use; a no-op sampler when collection is off).

        ``shared``: its bins do not depend on the parameters, so it is named ``<block>.any.<name>``
        and merges across configurations (e.g. stream timing)."""
        if name not in self._groups:
            where = "any" if shared else self.label
            self._groups[name] = (CoverGroup(f"{self.block}.{where}.{name}", points, crosses, ignore)
                                  if self.enabled else _Off())
        return self._groups[name]

    def write(self) -> Path | None:
        """Export everything sampled in this process (cocotb-coverage's YAML); None when off."""
        if not self.enabled:
            return None
        from cocotb_coverage.coverage import coverage_db

        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.block}-{self.label}-{self.seed}-{os.getpid()}.yml"
        coverage_db.export_to_yaml(str(path))
        return path


def gaps(cycles: Iterable[int]) -> list[int]:
    """Idle cycles between consecutive transfer cycles (observed by a monitor)."""
    cs = list(cycles)
    return [b - a - 1 for a, b in itertools.pairwise(cs)]


def sample_stream(cov: Coverage, stream: str, cycles: Iterable[int], spec: Any) -> None:
    """Cover the timing a monitor saw on ``stream``: each gap between transfers, crossed with the
    generator class that drove its handshake (``spec``)."""
    # an always-on generator never makes a gap itself (gaps there come from the other side of the
    # block), so its cross bins with a gap are left out of the model
    never = [("always", label(b)) for b in GAP_BINS[1:]]
    g = cov.group(f"stream_{stream}", {"gen": GEN_CLASSES, "gap": GAP_BINS}, {"gen_x_gap": ("gen", "gap")},
                  ignore={"gen_x_gap": never}, shared=True)
    cls = gen_class(spec)
    for gap in gaps(cycles):
        g.sample(gen=cls, gap=gap)


async def watch_fsm(clk, flags: dict[str, Any], out: dict, idle: str = "idle") -> None:
    """Count the transitions of a one-hot state machine as the DUT shows them: after every rising
    edge (in ``ReadOnly``) the state is the flag that is high (``idle`` if none); ``out`` gets
    ``"a->b"`` -> count for every change. Start it with ``cocotb.start_soon`` and cancel it at the end;
    only under coverage (one read per flag and cycle)."""
    from cocotb.triggers import ReadOnly, RisingEdge

    prev = None
    edge = RisingEdge(clk)
    while True:
        await edge
        await ReadOnly()
        state = next((name for name, h in flags.items() if int(h.value)), idle)
        if prev is not None and state != prev:
            key = f"{prev}->{state}"
            out[key] = out.get(key, 0) + 1
        prev = state


def sample_transitions(cov: Coverage, legal: Sequence[str], seen: dict, group: str = "fsm") -> None:
    """Cover every legal transition; a transition outside ``legal`` fails the run (it is a bug the
    assertions should have caught, or a stale list)."""
    bad = sorted(set(seen) - set(legal))
    if bad:
        raise AssertionError(f"{cov.block}: state transitions outside the legal set: {bad}")
    g = cov.group(group, {"transition": list(legal)})
    for key, n in seen.items():
        for _ in range(n):
            g.sample(transition=key)
