"""Testbench-side monitor of an array port that logs every programming pulse in a ring buffer
(co-simulation top), and the host-side decoder of that ring."""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

#: entries of each PulseLogger's ring buffer, and the entry layout (LSB first)
PLOG_DEPTH = 128
PLOG_FIELDS = (("cycle", 32), ("row", 13), ("col", 15), ("pol", 1), ("width", 8), ("err_lines", 1),
               ("err_set_reset", 1), ("err_read", 1))
PLOG_ENTRY = sum(w for _, w in PLOG_FIELDS)


class PulseLogger(wiring.Component):
    """Logs every programming pulse of one array port into a ring buffer that the Python side reads
    once per sample (no wake-up per pulse).

    An entry (:data:`PLOG_FIELDS`) is written when ``write`` falls: the cycle ``write`` rose (a
    free-running counter, 1 in the first cycle after reset), the word line and column indices, the
    polarity (1: ``bl_set``, SET), the number of cycles ``write`` was high, and three line checks made
    at the rising edge: ``err_lines`` (word lines or driven columns not exactly one-hot),
    ``err_set_reset`` (a column driven to SET and RESET), ``err_read`` (read path on). ``wp`` counts
    the entries written (entry ``i`` lives in slot ``i % depth``). Latency: an entry is visible in
    the cycle after ``write`` fell.

    Parameters
    ----------
    rows, phys_cols : int
        Word lines and physical columns of the monitored array port.
    depth : int
        Ring entries.

    Ports
    -----
    wl : In(rows)
    bl_set, sl_reset, bl_read : In(phys_cols)
    write, read : In(1)
        The array port's lines (monitored only).
    entries : Out(depth * PLOG_ENTRY)
        The ring; slot ``s`` in bits ``s * PLOG_ENTRY ..``.
    wp : Out(32)
        Entries written since reset.
    """

    def __init__(self, rows: int, phys_cols: int, depth: int = PLOG_DEPTH):
        self.rows, self.pcols, self.depth = rows, phys_cols, depth
        super().__init__({"wl": In(rows), "bl_set": In(phys_cols), "sl_reset": In(phys_cols),
                          "bl_read": In(phys_cols), "write": In(1), "read": In(1),
                          "entries": Out(depth * PLOG_ENTRY), "wp": Out(32)})

    @staticmethod
    def _index(m, v, width):
        """(index of the set bit, not-exactly-one-hot flag) of ``v``."""
        idx = Signal(range(max(2, width)))
        # bit b of the index is the OR of the set bits whose position has bit b set (the OR of
        # every set bit's position): one masked reduction per index bit, shallow at any width
        for b in range(len(idx)):
            mask = sum(1 << i for i in range(width) if (i >> b) & 1)
            m.d.comb += idx[b].eq((v & mask).any())
        bad = Signal()
        m.d.comb += bad.eq((v == 0) | ((v & (v - 1)) != 0))
        return idx, bad

    def elaborate(self, platform):
        m = Module()
        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        row, bad_r = self._index(m, self.wl, self.rows)
        drive = Signal(self.pcols)
        m.d.comb += drive.eq(self.bl_set | self.sl_reset)
        col, bad_c = self._index(m, drive, self.pcols)
        prev = Signal()
        m.d.sync += prev.eq(self.write)
        cur = Signal(PLOG_ENTRY)
        width = Signal(8)
        rise = self.write & ~prev
        vals = {"cycle": cycle, "row": row, "col": col, "pol": self.bl_set.any(), "width": 0,
                "err_lines": bad_r | bad_c, "err_set_reset": (self.bl_set & self.sl_reset).any(),
                "err_read": self.read | self.bl_read.any()}
        off = _field_offsets()
        with m.If(rise):
            m.d.sync += [cur[a:a + w].eq(vals[n]) for n, (a, w) in off.items() if n != "width"]
            m.d.sync += width.eq(1)
        with m.Elif(self.write):
            m.d.sync += width.eq(width + 1)
        self._ring(m, cur, width, prev, off["width"])
        return m

    def _ring(self, m, cur, width, prev, width_field):
        """On the falling edge of ``write``: the entry (``cur`` with its width) into slot ``wp``."""
        slot = Signal(range(self.depth))
        wp = Signal(32)
        m.d.comb += [slot.eq(wp[:max(1, (self.depth - 1).bit_length())]), self.wp.eq(wp)]
        entries = Signal(self.depth * PLOG_ENTRY)
        m.d.comb += self.entries.eq(entries)
        a, w = width_field
        with m.If(~self.write & prev):
            full = Signal(PLOG_ENTRY)
            m.d.comb += [full.eq(cur), full[a:a + w].eq(width)]
            for i in range(self.depth):
                with m.If(slot == i):
                    m.d.sync += entries[i * PLOG_ENTRY:(i + 1) * PLOG_ENTRY].eq(full)
            m.d.sync += wp.eq(wp + 1)


def _field_offsets() -> dict[str, tuple[int, int]]:
    """(offset, width) of every :data:`PLOG_FIELDS` entry field."""
    off, o = {}, 0
    for name, w in PLOG_FIELDS:
        off[name] = (o, w)
        o += w
    return off


def decode_plog(entries: int, wp: int, rp: int, depth: int = PLOG_DEPTH) -> list[dict]:
    """Entries ``rp .. wp - 1`` of a :class:`PulseLogger` ring (``entries`` the output as an int)."""
    if wp - rp > depth:
        raise OverflowError(f"pulse log overflow: {wp - rp} entries since the last read, ring of {depth}")
    out = []
    mask = (1 << PLOG_ENTRY) - 1
    for i in range(rp, wp):
        e = (entries >> ((i % depth) * PLOG_ENTRY)) & mask
        d = {}
        for name, w in PLOG_FIELDS:
            d[name] = e & ((1 << w) - 1)
            e >>= w
        out.append(d)
    return out
