"""Golden state of a whole crossbar: the conductance of every device, driven by pulses and reads.

This is the specification the testbench's behavioural array (:mod:`tb.models.reram_array`) must match
bit for bit: both hold one :class:`CrossbarArray` and call the same :mod:`golden.physics.device` model, the
golden with a whole pulse list at once (vectorised in rounds), the testbench one pulse at a time as
the RTL emits them. Because the device model is counter-based (the response of device ``i`` to its
``k``-th pulse is a function of ``(seed, i, k)``) and every per-device operation is element-wise,
both orders give identical float64 conductances.

Device ``row * phys_cols + phys_col`` is the one at word line ``row``, physical column ``phys_col``.

Read-out: ``read`` returns the device model's noisy read of the ``r``-th read of that device;
``read_code`` turns it into the unsigned ``adc_width``-bit code the array returns to the RTL::

    code = min(2**adc_width - 1, floor(g_read / full_scale * (2**adc_width - 1) + 0.5))

with ``full_scale`` = the device's nominal ``g_max`` unless given.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from golden.physics.device import DeviceModel
from golden.spec.params import AccelParams, ConfigError, check_int
from golden.spec.transactions import Pulse


class CrossbarArray:
    """Conductances (uS, float64, shape ``(rows, phys_cols)``) and per-device pulse/read counters.

    Parameters
    ----------
    params : AccelParams
        Array size (``array.rows`` by ``phys_cols``).
    device : DeviceModel
        Device model and chip seed.
    adc_width : int, 1..16
        Width of the read-out code.
    full_scale : float, optional
        Conductance (uS) that maps to the largest code; default the device's ``g_max``.
    """

    def __init__(self, params: AccelParams, device: DeviceModel, adc_width: int = 8,
                 full_scale: float | None = None):
        check_int("adc_width", adc_width, 1, 16)
        self.rows, self.phys_cols = params.array.rows, params.phys_cols
        self.device = device
        self.adc_width = adc_width
        self.full_scale = float(device.params.g_max if full_scale is None else full_scale)
        if not self.full_scale > 0:
            raise ConfigError(f"full_scale = {full_scale} is out of range: allowed > 0")
        n = self.rows * self.phys_cols
        self.ids = np.arange(n, dtype=np.uint64)
        self.dev = device.per_device(self.ids)
        self.g_flat = device.initial(self.ids, dev=self.dev)
        self.k = np.zeros(n, dtype=np.int64)   # pulses applied so far, per device
        self.r = np.zeros(n, dtype=np.int64)   # reads so far, per device

    @property
    def g(self) -> np.ndarray:
        """Conductances as a ``(rows, phys_cols)`` view."""
        return self.g_flat.reshape(self.rows, self.phys_cols)

    def device_id(self, row: int, phys_col: int) -> int:
        if not (0 <= row < self.rows and 0 <= phys_col < self.phys_cols):
            raise IndexError(f"device ({row}, {phys_col}) is outside the {self.rows}x{self.phys_cols} array")
        return row * self.phys_cols + phys_col

    # --- programming -------------------------------------------------------------------------------
    def pulse(self, row: int, phys_col: int, polarity: int) -> float:
        """Apply one pulse to one device (the testbench's path); returns its new conductance."""
        i = self.device_id(row, phys_col)
        s = slice(i, i + 1)
        self.g_flat[s] = self.device.pulse(self.g_flat[s], self.ids[s], self.k[s], np.array([polarity]),
                                           dev=self.dev.take(s))
        self.k[i] += 1
        return float(self.g_flat[i])

    def apply(self, pulses: Sequence[Pulse]) -> None:
        """Apply a pulse list in order (the golden path), vectorised: round ``j`` applies the ``j``-th
        listed pulse of every device at once."""
        if not pulses:
            return
        rows = np.fromiter((p.row for p in pulses), dtype=np.int64, count=len(pulses))
        cols = np.fromiter((p.phys_col for p in pulses), dtype=np.int64, count=len(pulses))
        pol = np.fromiter((p.polarity for p in pulses), dtype=np.int64, count=len(pulses))
        if rows.min() < 0 or rows.max() >= self.rows or cols.min() < 0 or cols.max() >= self.phys_cols:
            raise IndexError("a pulse is outside the array")
        ids = rows * self.phys_cols + cols
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        first = np.searchsorted(sorted_ids, sorted_ids, side="left")
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(len(ids)) - first   # j: how many earlier pulses hit the same device
        for j in range(int(rank.max()) + 1):
            sel = np.nonzero(rank == j)[0]
            d = ids[sel]
            self.g_flat[d] = self.device.pulse(self.g_flat[d], self.ids[d], self.k[d] + 0, pol[sel],
                                               dev=self.dev.take(d))
            self.k[d] += 1

    # --- read-out ------------------------------------------------------------------------------------
    def read(self, row: int, phys_col: int) -> float:
        """Noisy read (uS) of one device; advances its read counter."""
        i = self.device_id(row, phys_col)
        s = slice(i, i + 1)
        v = float(self.device.read(self.g_flat[s], self.ids[s], self.r[s])[0])
        self.r[i] += 1
        return v

    def adc_code(self, g_read: float) -> int:
        top = (1 << self.adc_width) - 1
        return int(min(top, np.floor(g_read / self.full_scale * top + 0.5)))

    def read_code(self, row: int, phys_col: int) -> int:
        """ADC code of one noisy read (see the module docstring)."""
        return self.adc_code(self.read(row, phys_col))


class FollowingReader:
    """``read_value`` callback for :func:`golden.twins.pulse_scheduler.scheduler_cycle_model`.

    Before each read it applies the pulses of the model's growing pulse list that it has not applied
    yet (vectorised), then returns the read's ADC code; :meth:`finish` applies the rest.
    """

    def __init__(self, array: CrossbarArray):
        self.array = array
        self.applied = 0

    def _catch_up(self, pulses: Sequence[Pulse]) -> None:
        self.array.apply(pulses[self.applied:])
        self.applied = len(pulses)

    def __call__(self, row: int, phys_col: int, pulses: Sequence[Pulse]) -> int:
        self._catch_up(pulses)
        return self.array.read_code(row, phys_col)

    def finish(self, pulses: Sequence[Pulse]) -> CrossbarArray:
        self._catch_up(pulses)
        return self.array
