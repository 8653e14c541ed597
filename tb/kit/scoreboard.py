"""In-order scoreboard: expected transactions (from a golden model) against observed ones (from a DUT).

Items are compared whole. An item is either a transaction that carries its own cycle stamp (an
object with a ``cycle`` attribute, e.g. :class:`golden.spec.transactions.Pulse`), a ``(cycle, txn)`` pair
(what the golden cycle models return), a :class:`tb.kit.stream.Transfer`, or a bare transaction (then
no cycle is reported). The first difference raises :class:`ScoreboardMismatch` naming its index,
cycle, the expected and the observed item, and the seed, so a failing randomized run can be
replayed.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ScoreboardMismatch(AssertionError):
    """The observed transactions differ from the expected ones; the message says where."""

    def __init__(self, message: str, index: int, cycle: int | None):
        super().__init__(message)
        self.index = index
        self.cycle = cycle


def _normalise(item: Any) -> tuple[int | None, Any]:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int):
        return item[0], item[1]
    if hasattr(item, "cycle") and hasattr(item, "value") and type(item).__name__ == "Transfer":
        return item.cycle, item.value
    return getattr(item, "cycle", None), item


class Scoreboard:
    """Compare expected and observed transaction lists in order.

    Parameters
    ----------
    name : str
        Names the checked stream in messages (e.g. ``"update_unit.o"``).
    seed : int, optional
        Printed in every message.
    compare_cycles : bool
        If False only the transactions are compared (cycles are still reported).
    """

    def __init__(self, name: str, seed: int | None = None, compare_cycles: bool = True):
        self.name = name
        self.seed = seed
        self.compare_cycles = compare_cycles
        self.compared = 0

    def _fail(self, index: int, cycle: int | None, what: str) -> None:
        at = f"cycle {cycle}" if cycle is not None else "cycle ?"
        raise ScoreboardMismatch(f"scoreboard {self.name}: mismatch at index {index}, {at}: {what} "
                                 f"(seed {self.seed})", index, cycle)

    def check(self, expected: Sequence[Any], observed: Sequence[Any]) -> int:
        """Raise :class:`ScoreboardMismatch` at the first difference; return the number compared."""
        for i, (e, o) in enumerate(zip(expected, observed)):
            ec, et = _normalise(e)
            oc, ot = _normalise(o)
            if et != ot or (self.compare_cycles and ec != oc):
                self._fail(i, ec if ec is not None else oc,
                           f"expected {et!r} at cycle {ec}, got {ot!r} at cycle {oc}")
        n = min(len(expected), len(observed))
        if len(expected) > n:
            ec, et = _normalise(expected[n])
            self._fail(n, ec, f"expected {et!r} at cycle {ec}, got nothing "
                              f"({len(expected) - n} expected transactions missing)")
        if len(observed) > n:
            oc, ot = _normalise(observed[n])
            self._fail(n, oc, f"expected nothing, got {ot!r} at cycle {oc} "
                              f"({len(observed) - n} unexpected transactions)")
        self.compared += n
        return n


async def run_expecting(dut, cfg: dict, phases) -> None:
    """Await ``phases(dut, cfg)``; with ``cfg["expect_mismatch"]`` (the golden model was given wrong
    parameters on purpose) pass only if the scoreboard reports a mismatch that names its cycle.

    This is how a test proves its scoreboard can fail.
    """
    try:
        await phases(dut, cfg)
    except ScoreboardMismatch as e:
        if not cfg.get("expect_mismatch"):
            raise
        if e.cycle is None:
            raise AssertionError(f"mismatch reported without a cycle: {e}") from e
        dut._log.info(f"expected mismatch reported: {e}")
        return
    if cfg.get("expect_mismatch"):
        raise AssertionError("wrong golden parameters, yet the scoreboard reported no mismatch")
