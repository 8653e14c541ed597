"""Multi-ReRAM synapse array (Boybat et al.): N devices per weight, counter-based arbitration.

One :class:`SynapseArray` is one crossbar of ``rows x cols`` synapses (``params.array``), each made of
``D = params.synapse.slots`` devices laid out as the hardware does (:mod:`golden.spec.params`): synapse
``(r, c)`` slot ``d`` sits on physical column ``c * D + d`` and its device id is
``id_base + r * phys_cols + c * D + d``. In differential mode slots ``[0, N)`` are G+ and ``[N, 2N)``
are G-.

Weight read-out (uS -> weight units)::

    non-differential:  w = scale * (sum_d G_d - N * g_ref)        scale = w_max / (N * (g_max - g_min) / 2)
    differential:      w = scale * (sum G+ - sum G-)              scale = w_max / (N * (g_max - g_min))

so the nominal weight window is ``[-w_max, +w_max]`` for every N (more devices give a finer weight
step, the periphery's gain is scaled accordingly). ``g_ref`` is the nominal device's symmetry point
(mean SET step = mean RESET step; the window centre for binary devices).

Update path (every decision is the hardware's, made by the golden twins)
-----------------------------------------------------------------------
1. The float update ``dW = -lr * outer(a, delta)`` is formed as the outer-product engine forms it
   (:mod:`golden.twins.outer_product_engine`, formats ``params.engine``): the host quantises the layer
   input to x codes ``x_q = quantize_x(a)`` and the error, in dw LSBs, to delta codes
   ``d_q = quantize_delta(delta * float32(-lr / lsb))``, with ``lsb = scale * nominal_step /
   update.eps``: one threshold ``eps`` equals the weight change of one *mean* device pulse
   (:attr:`golden.physics.device.DeviceParams.nominal_step`); the chip forms ``dw = outer_dw(x_q,
   d_q)`` exactly (round half up, saturation to ``update.dw_width``) for the rows with ``x_q != 0``
   (:class:`golden.training.update_codes.UpdateCodes`, which also counts the saturations).
2. Every synapse with ``dw != 0`` is one :class:`~golden.spec.transactions.UpdateRequest` (row-major
   order; the per-synapse UPDATE path sends exactly these); the accumulator rule
   (:func:`golden.twins.update_unit.update_rule`) accumulates and emits signed pulse counts.
3. The ArbitrationController (:mod:`golden.twins.arbitration_controller`) maps each count to one device
   slot and polarity for this update cycle; its selection counters advance in ``end_cycle``.
4. The device model applies the pulses (``count`` pulses of one polarity on one device).

The vectorised path here produces exactly the transactions of stepping the twins request by request,
and of :meth:`golden.twins.outer_product_engine.OuterProductEngine.frame` on the codes
(tests/golden/training/test_multi_device_synapses.py checks both); pass ``trace=[]`` to collect them.

Refresh (differential mode): a synapse whose G+ or G- group mean exceeds ``g_min + threshold *
(g_max - g_min)`` (nominal bounds) is refreshed: its devices are read (with read noise), the
controller's ``refresh(row, col)`` RESET pulses are applied to every slot, and the read weight is
re-programmed open loop into the G+ (w > 0) or G- (w < 0) group, spread evenly over its N devices,
with the number of SET pulses taken from the nominal mean response (:meth:`SynapseArray.set_counts`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.physics.device import RESET, SET, DeviceModel, DeviceParams, PerDevice
from golden.spec.params import AccelParams, ConfigError, check_float
from golden.spec.transactions import ProgramRequest, PulseCount, UpdateRequest
from golden.training.update_codes import UpdateCodes
from golden.twins.outer_product_engine import quantize_delta, quantize_x

#: counter offset of refresh reads (forward-pass device reads use the sample index as counter)
REFRESH_READ_BASE = 1 << 40


def symmetry_point(p: DeviceParams) -> float:
    """Conductance where the nominal mean SET and RESET steps are equal (uS); window centre if binary."""
    if p.binary or p.reset_mode == "abrupt":
        return p.g_mid
    lo, hi = p.g_min, p.g_max
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if p.mean_step(mid, SET) + p.mean_step(mid, RESET) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def nominal_trajectory(p: DeviceParams, g0: float, pulses: int = 256) -> np.ndarray:
    """Mean conductance of the nominal device after ``k = 0..pulses`` SET pulses from ``g0``."""
    t = np.empty(pulses + 1)
    g = float(g0)
    for k in range(pulses + 1):
        t[k] = g
        g = min(p.g_max, g + float(p.mean_step(g, SET)))
    return t


class DeviceStore:
    """Conductances, pulse counters and device-to-device table of a chip's devices (flat, by id).

    Several :class:`SynapseArray` objects (one per layer) share one store, so that the pulses of one
    update cycle of all arrays are applied in one vectorised call. Device id ``i`` is entry ``i``.
    The counter-based pulse draws are cached in blocks of :attr:`BLOCK` consecutive pulse indices per
    device (computed when a device first needs a block): the values are those of
    :meth:`DeviceModel.draws`, only computed fewer times.
    """

    BLOCK = 16

    def __init__(self, model: DeviceModel, n_devices: int, faults: np.ndarray | None = None):
        self.model = model
        self.n = int(n_devices)
        ids = np.arange(self.n, dtype=np.uint64)
        self.tab = model.per_device(ids).tab
        self.g = model.initial(ids, dev=PerDevice(self.tab))
        # stuck-at faults (golden.physics.faults codes per device id): a stuck device holds its own bound
        # (LRS: g_max_i, HRS: g_min_i) from the start and ignores every pulse (reads are unchanged:
        # the stuck conductance plus the usual read noise). None: no faults (the unfaulted model).
        self.fault_mask = None
        self._stuck = None
        if faults is not None:
            mask = np.asarray(faults)
            if mask.shape != (self.n,) or not np.all(np.isin(mask, (-1, 0, 1))):
                raise ConfigError(f"faults must be an int array of {self.n} codes in {{-1, 0, 1}} "
                                  f"(golden.physics.faults.stuck_fault_mask), got shape {mask.shape}")
            self.fault_mask = mask.astype(np.int8)
            lrs, hrs = mask == 1, mask == -1
            self.g[lrs] = self.tab[lrs, 3]
            self.g[hrs] = self.tab[hrs, 2]
            if lrs.any() or hrs.any():
                self._stuck = lrs | hrs
        self.k = np.zeros(self.n, dtype=np.int64)       # per-device pulse counter
        self._blk = np.full(self.n, -1, dtype=np.int64)  # block of pulse indices cached in _xi
        self._xi = np.empty((self.n, self.BLOCK))        # pages are committed only when touched
        self._off = np.arange(self.BLOCK, dtype=np.int64)
        self.pulses = 0

    def draws(self, ids: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``model.draws(ids, k)`` for unique ``ids`` (int64) through the block cache."""
        b = k // self.BLOCK
        stale = np.flatnonzero(self._blk[ids] != b)
        if stale.size:
            si, sb = ids[stale], b[stale]
            self._xi[si] = self.model.draws(si[:, None].astype(np.uint64),
                                            (sb[:, None] * self.BLOCK + self._off).astype(np.uint64))
            self._blk[si] = sb
        return self._xi[ids, k - b * self.BLOCK]

    def apply(self, ids: np.ndarray, polarity: np.ndarray, count: np.ndarray) -> None:
        """``count[i]`` pulses of ``polarity[i]`` on device ``ids[i]`` (ids unique within one call)."""
        ids = np.asarray(ids, dtype=np.int64)
        up = np.asarray(polarity) == SET
        cnt = np.asarray(count, dtype=np.int64)
        if ids.size and cnt.min() <= 0:
            keep = cnt > 0
            ids, up, cnt = ids[keep], up[keep], cnt[keep]
        if ids.size == 0:
            return
        for j in range(int(cnt.max())):
            if j:
                keep = cnt > j
                ids, up, cnt = ids[keep], up[keep], cnt[keep]
            k = self.k[ids]
            g1 = self.model.step(self.g[ids], up, self.tab[ids], self.draws(ids, k))
            if self._stuck is not None:                 # stuck devices ignore the pulse
                np.copyto(g1, self.g[ids], where=self._stuck[ids])
            self.g[ids] = g1
            self.k[ids] = k + 1
            self.pulses += ids.size


@dataclass(frozen=True)
class ArrayConfig:
    """How one layer is mapped onto a synapse array (beyond the hardware parameters).

    Attributes
    ----------
    w_max : float, > 0
        Nominal weight window ``[-w_max, w_max]``.
    refresh_threshold : float, 0..1
        Differential mode: refresh when a group's mean conductance exceeds this fraction of the window.
    """

    w_max: float = 1.0
    refresh_threshold: float = 0.85

    def __post_init__(self):
        check_float("array.w_max", self.w_max, 0.0, 1e6, lo_open=True)
        check_float("training.refresh_threshold", self.refresh_threshold, 0.05, 1.0)


def _arbiter(params: AccelParams):
    from golden.twins.arbitration_controller import ArbitrationController
    return ArbitrationController(params)


class PulsePlan:
    """Device pulses decided in one update cycle of one array, not yet applied.

    ``ids`` global device ids, ``polarity``, ``count``; ``rows``/``cols`` the synapses they touch.
    """

    __slots__ = ("cols", "count", "ids", "polarity", "rows")

    def __init__(self, ids, polarity, count, rows, cols):
        self.ids, self.polarity, self.count, self.rows, self.cols = ids, polarity, count, rows, cols

    @property
    def pulses(self) -> int:
        return int(self.count.sum())


_EMPTY = np.empty(0, dtype=np.int64)


class SynapseArray:
    """State of one crossbar: conductances, per-device pulse counters, chi, arbitration.

    Parameters
    ----------
    params : AccelParams
        ``array.rows x array.cols`` synapses; ``synapse`` (N, differential, increment, periods,
        refresh_pulses), ``update`` and ``engine`` (fixed-point formats) as the hardware.
    model : DeviceModel
        Device model (its seed fixes the chip).
    config : ArrayConfig
        Weight window and refresh threshold.
    id_base : int
        Offset of this array's device ids (distinct arrays on one chip use disjoint id ranges).
    store : DeviceStore, optional
        Shared device storage holding ids ``id_base .. id_base + rows * phys_cols - 1`` (a private
        one is created if omitted).
    """

    def __init__(self, params: AccelParams, model: DeviceModel, config: ArrayConfig | None = None,
                 id_base: int = 0, store: DeviceStore | None = None):
        self.params = params
        self.model = model
        self.config = config or ArrayConfig()
        self.id_base = int(id_base)
        sp, up, dp = params.synapse, params.update, model.params
        self.rows, self.cols = params.array.rows, params.array.cols
        self.N, self.D, self.diff = sp.devices, sp.slots, sp.differential
        self.n_devices = self.rows * self.cols * self.D
        if store is None:
            store = DeviceStore(model, self.id_base + self.n_devices)
        if store.n < self.id_base + self.n_devices or store.model is not model:
            raise ConfigError("device store does not hold this array's devices (id_base + rows * phys_cols)")
        self.store = store
        span = dp.g_max - dp.g_min
        self.scale = self.config.w_max / (self.N * (span if self.diff else span / 2))
        self.g_ref = 0.0 if self.diff else symmetry_point(dp)
        self.ref = 0.0 if self.diff else self.N * self.g_ref
        self.step_w = self.scale * dp.nominal_step          # weight change of one mean pulse
        self.lsb = self.step_w / up.eps                     # weight units of one dw LSB
        self.eps = up.eps
        self.max_count = up.max_count
        self.dw_lo, self.dw_hi = -(1 << (up.dw_width - 1)), (1 << (up.dw_width - 1)) - 1
        self.chi_lo, self.chi_hi = -(1 << (up.chi_width - 1)), (1 << (up.chi_width - 1)) - 1
        # int32 holds chi + dw (dw_width <= chi_width) without overflow up to 30-bit accumulators
        self.chi_dtype = np.int32 if up.chi_width <= 30 else np.int64
        self.chi = np.zeros((self.rows, self.cols), dtype=self.chi_dtype)
        self.codes = UpdateCodes(params, self.chi_dtype)    # engine arithmetic, saturation counters
        self._chi_bound = float(self.eps - 1)               # bound on |chi| (skips saturation checks)
        sl = slice(self.id_base, self.id_base + self.n_devices)
        self.g = store.g[sl].reshape(self.rows, self.cols, self.D)      # views into the store
        self.k = store.k[sl].reshape(self.rows, self.cols, self.D)
        self.arb = _arbiter(params)
        self.cycles = 0
        self.refresh_events = 0
        self.refreshes = 0
        self.pulse_total = 0
        self._recompute_all()

    # --- read-out -------------------------------------------------------------------------------
    def device_ids(self, rows, cols, slots) -> np.ndarray:
        """Global device ids of (row, col, slot) (broadcast)."""
        return self.id_base + (np.asarray(rows) * self.cols + np.asarray(cols)) * self.D + np.asarray(slots)

    def _sums(self, g: np.ndarray):
        """(G+ sum, G- sum, sum of squares) over the last (slot) axis."""
        gp = g[..., :self.N].sum(axis=-1)
        gm = g[..., self.N:].sum(axis=-1) if self.diff else None
        return gp, gm, (g * g).sum(axis=-1)

    def weights_from(self, g: np.ndarray) -> np.ndarray:
        """Weights (float64) from conductances shaped ``(..., D)``."""
        gp, gm, _ = self._sums(g)
        return self.scale * (gp - gm) if self.diff else self.scale * (gp - self.ref)

    def _recompute_all(self) -> None:
        gp, gm, q = self._sums(self.g)
        self.gp, self.gm = gp, gm
        # weights and per-synapse sum of G**2 side by side: one row gather serves the forward pass
        # and its read-noise variance (training.InSituMLP.step)
        self.WQ = np.empty((self.rows, 2 * self.cols), dtype=np.float32)
        self.W = self.WQ[:, :self.cols]
        self.Q = self.WQ[:, self.cols:]
        self.W[:] = self.scale * (gp - gm) if self.diff else self.scale * (gp - self.ref)
        self.Q[:] = q

    def _recompute(self, r: np.ndarray, c: np.ndarray) -> None:
        f = r * self.cols + c
        gsel = self.g.reshape(-1, self.D)[f]
        q = np.einsum("ij,ij->i", gsel, gsel)
        wq = self.WQ.reshape(-1)
        fw = r * (2 * self.cols) + c
        if self.diff:
            gp = gsel[:, :self.N].sum(axis=1)
            gm = gsel[:, self.N:].sum(axis=1)
            self.gp.reshape(-1)[f] = gp
            self.gm.reshape(-1)[f] = gm
            wq[fw] = self.scale * (gp - gm)
        else:
            wq[fw] = self.scale * (gsel.sum(axis=1) - self.ref)
        wq[fw + self.cols] = q

    @property
    def weights(self) -> np.ndarray:
        """Noise-free weights (float64) from the current conductances."""
        return self.weights_from(self.g)

    def read_weights(self, read_index: int) -> np.ndarray:
        """Weights from one noisy read of every device (read counter ``read_index``)."""
        ids = self.id_base + np.arange(self.n_devices, dtype=np.int64)
        g = self.model.read(self.g.ravel(), ids, read_index).reshape(self.g.shape)
        return self.weights_from(g)

    def read_noise_var(self, a2: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Variance of ``a @ W_read`` due to device read noise, given ``a2 = a**2`` (over ``rows``).

        ``a2`` may be one vector or a batch ``(B, len(rows))``; independent per-device read noise of
        std ``sqrt((read_mult * G)**2 + read_add**2)`` gives this variance exactly.
        """
        p = self.model.params
        q = self.Q if rows is None else self.Q[rows]
        var = ((p.read_mult ** 2) * (a2 @ q)
               + (self.D * p.read_add ** 2) * a2.sum(axis=-1, keepdims=a2.ndim > 1))
        return (self.scale ** 2) * var

    def noise_var_from(self, aq: np.ndarray, a2: np.ndarray) -> np.ndarray:
        """:meth:`read_noise_var` given ``aq = a2 @ Q[rows]`` already computed."""
        p = self.model.params
        return (self.scale ** 2) * ((p.read_mult ** 2) * aq + (self.D * p.read_add ** 2) * a2.sum())

    def read_noise_var_t(self, d2: np.ndarray) -> np.ndarray:
        """Variance of the transposed read ``W_read @ d`` (backward pass), given ``d2 = d**2``."""
        p = self.model.params
        return (self.scale ** 2) * ((p.read_mult ** 2) * (self.Q @ d2)
                                    + (self.D * p.read_add ** 2) * d2.sum())

    # --- pulses -----------------------------------------------------------------------------------
    def apply_pulses(self, r, c, slot, polarity, count) -> None:
        """Apply ``count`` pulses of ``polarity`` to device ``slot`` of synapse ``(r, c)`` (arrays)."""
        r, c, slot, pol, cnt = (np.atleast_1d(np.asarray(v, dtype=np.int64))
                                for v in (r, c, slot, polarity, count))
        if r.size == 0:
            return
        self.commit(PulsePlan(self.device_ids(r, c, slot), pol, cnt, r, c))

    def commit(self, plan: PulsePlan, applied: bool = False) -> None:
        """Apply a plan's pulses (unless ``applied``: another call already did) and refresh the caches."""
        if plan.rows.size == 0:
            return
        if not applied:
            self.store.apply(plan.ids, plan.polarity, plan.count)
        self.pulse_total += plan.pulses
        self._recompute(plan.rows, plan.cols)

    # --- update cycle ---------------------------------------------------------------------------
    def delta_lsb(self, delta: np.ndarray, lr: float) -> np.ndarray:
        """The error in dw LSBs (float32), ``delta * float32(-lr / lsb)``: what :func:`quantize_delta` takes."""
        return np.asarray(delta, dtype=np.float32) * np.float32(-lr / self.lsb)

    def frame_codes(self, a: np.ndarray, delta: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        """``(x_q, d_q)`` the host streams to the outer-product engine for ``dW = -lr * outer(a, delta)``."""
        return quantize_x(a, self.params), quantize_delta(self.delta_lsb(delta, lr), self.params)

    def quantise(self, a: np.ndarray, delta: np.ndarray, lr: float) -> np.ndarray:
        """Integer updates ``dw`` (int64, ``len(a) x cols``) for ``dW = -lr * outer(a, delta)``: the
        engine's ``outer_dw`` of :meth:`frame_codes` (module docstring). Does not count saturations."""
        codes = UpdateCodes(self.params, np.int64)
        nz, dw, _ = codes.dw(np.asarray(a, dtype=np.float32), self.delta_lsb(delta, lr))
        out = np.zeros((np.size(a), self.cols), dtype=np.int64)
        out[nz] = dw
        return out

    def saturations(self) -> dict[str, int]:
        """Saturated codes and products so far (:data:`golden.training.update_codes.COUNT_NAMES`)."""
        return self.codes.saturations()

    def update(self, rows: np.ndarray | None, a: np.ndarray, delta: np.ndarray, lr: float,
               trace: list | None = None) -> int:
        """One update cycle: ``dW[rows] = -lr * outer(a, delta)`` through UpdateUnit + arbitration.

        Parameters
        ----------
        rows : int array or None
            The array rows whose input ``a`` may be non-zero, ascending and unique (None: all rows,
            ``a`` full length). Rows left out have ``x_q = 0``, so they send no request.
        a : float array (len(rows),), >= 0
            Layer input on those rows (a negative value is a ValueError: x codes are unsigned).
        delta : float array (cols,)
            Back-propagated error of the layer outputs.
        lr : float
            Learning rate.
        trace : list, optional
            If given, receives the UpdateRequests (row-major), then the PulseCounts (row-major, as
            :meth:`golden.twins.outer_product_engine.OuterProductEngine.frame` emits them), then the
            ProgramRequests of the cycle.

        Returns the number of pulses applied.
        """
        plan = self.plan_update(rows, a, delta, lr, trace)
        self.commit(plan)
        return plan.pulses

    def plan_update(self, rows: np.ndarray | None, a: np.ndarray, delta: np.ndarray, lr: float,
                    trace: list | None = None) -> PulsePlan:
        """:meth:`update` up to the device pulses: chi and the controller advance, pulses are returned.

        The caller must :meth:`commit` the plan (or apply it through the shared store and commit
        with ``applied=True``) before the next update cycle.
        """
        nz, dw, bound = self.codes.dw(np.asarray(a, dtype=np.float32), np.asarray(delta, dtype=np.float32),
                                      np.float32(-lr / self.lsb))
        return self._plan_dw(rows, np.size(a), nz, dw, bound, trace)

    def plan_update_codes(self, rows: np.ndarray | None, xq: np.ndarray, dq: np.ndarray,
                          trace: list | None = None) -> PulsePlan:
        """:meth:`plan_update` for x and delta codes formed on chip (hardware-exact training): the
        engine's ``outer_dw(xq, dq)`` of the codes as they are (:meth:`UpdateCodes.dw_codes`), then
        the same accumulator, arbitration and pulses."""
        nz, dw, bound = self.codes.dw_codes(xq, dq)
        return self._plan_dw(rows, np.size(xq), nz, dw, bound, trace)

    def _plan_dw(self, rows, n_in: int, nz: np.ndarray, dw: np.ndarray, bound: int, trace) -> PulsePlan:
        """:meth:`plan_update` from the products ``dw`` of the input positions ``nz``."""
        if nz.size < n_in:                  # rows with x_q == 0: the engine skips them
            rows = nz if rows is None else np.asarray(rows)[nz]
        if rows is None:                          # every row: work on the whole accumulator
            s = self.chi + dw
        else:
            s = self.chi[rows]
            s += dw
        if self._chi_bound + bound > self.chi_hi:
            np.clip(s, self.chi_lo, self.chi_hi, out=s)
        cand = np.flatnonzero(np.abs(s) >= self.eps)
        if trace is not None:
            nz = np.flatnonzero(dw)
            trace.extend(UpdateRequest(int(i // self.cols if rows is None else rows[i // self.cols]),
                                       int(i % self.cols), int(dw.flat[i])) for i in nz)
        if cand.size:
            cand = cand[dw.flat[cand] != 0]      # no request, no pulse (chi may hold >= eps after saturation)
        if rows is None:
            self.chi = s
        else:
            self.chi[rows] = s
        if cand.size == 0:
            self._end_cycle(False, False, 0)
            return PulsePlan(_EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY)
        sv = s.flat[cand].astype(np.int64)
        n = np.minimum(np.abs(sv) // self.eps, self.max_count)
        counts = np.where(sv >= 0, n, -n)
        rem = sv - counts * self.eps
        ri, c = np.divmod(cand, self.cols)
        r = ri if rows is None else rows[ri]
        self.chi[r, c] = rem
        if n.max() == self.max_count:
            self._chi_bound = max(self._chi_bound, float(np.abs(rem).max()))
        if trace is not None:
            trace.extend(PulseCount(int(a), int(b), int(n)) for a, b, n in zip(r, c, counts))
        return self._arbitrate(r, c, counts, trace)

    def _arbitrate(self, r, c, counts, trace) -> PulsePlan:
        """Route signed pulse counts through the arbitration controller (one update cycle)."""
        arb = self.arb
        d = arb.decision()
        pos = counts > 0
        npos = int(pos.sum())
        nneg = counts.size - npos
        pot_any = d.pot_enabled and npos > 0
        dep_any = d.dep_enabled and nneg > 0
        skipped = (0 if d.pot_enabled else npos) + (0 if d.dep_enabled else nneg)
        if not (d.pot_enabled and d.dep_enabled):
            keep = np.where(pos, d.pot_enabled, d.dep_enabled)
            r, c, counts, pos = r[keep], c[keep], counts[keep], pos[keep]
        slot = np.where(pos, d.pot_slot, d.dep_slot)
        pol = np.where(pos, SET, arb.dep_polarity)
        cnt = np.abs(counts)
        if trace is not None:
            trace.extend(ProgramRequest(int(a), int(b), int(e), int(f), int(g))
                         for a, b, e, f, g in zip(r, c, slot, pol, cnt))
        self._end_cycle(pot_any, dep_any, skipped)
        return PulsePlan(self.device_ids(r, c, slot), pol, cnt, r, c)

    def _end_cycle(self, pot_any: bool, dep_any: bool, skipped: int) -> None:
        if pot_any or dep_any or skipped:
            self.arb.record(bool(pot_any), bool(dep_any), skipped)
        self.arb.end_cycle()
        self.cycles += 1

    # --- open-loop programming and refresh --------------------------------------------------------
    def set_counts(self, g_from: float, target: np.ndarray) -> np.ndarray:
        """SET pulses that bring the nominal device from ``g_from`` closest to ``target`` (uS), 0..255."""
        t = nominal_trajectory(self.model.params, g_from, 255)
        idx = np.searchsorted(t, target)            # t is non-decreasing
        idx = np.clip(idx, 1, len(t) - 1)
        below = np.abs(t[idx - 1] - target) <= np.abs(t[idx] - target)
        out = np.where(below, idx - 1, idx)
        return np.where(target <= t[0], 0, out).astype(np.int64)

    def program_weights(self, w: np.ndarray, trace: list | None = None) -> None:
        """Open-loop programming of fresh devices to weights ``w`` (rows x cols), SET pulses only.

        Non-differential: every device of a synapse targets ``g_ref + w / (scale * N)``;
        differential: the G+ (w > 0) or G- (w < 0) devices target ``g_init + |w| / (scale * N)``.
        Counts come from the nominal mean response starting at ``g_init`` (binary: the high level is
        the target of a device when the synapse needs it; see :meth:`set_counts`).
        """
        p = self.model.params
        w = np.asarray(w, dtype=np.float64)
        per = w / (self.scale * self.N)
        if self.diff:
            tp = p.g_init + np.maximum(per, 0.0)
            tm = p.g_init + np.maximum(-per, 0.0)
            targets = np.concatenate([np.repeat(tp[..., None], self.N, -1),
                                      np.repeat(tm[..., None], self.N, -1)], -1)
        else:
            targets = np.repeat((self.g_ref + per)[..., None], self.N, -1)
        if p.binary:
            # k of the N devices high, k = round(share of the window); the first k slots
            span = p.g_max - p.g_min
            frac = np.clip((targets[..., 0] - p.g_min) / span, 0.0, 1.0) if not self.diff else None
            if self.diff:
                kp = np.clip(np.rint(np.maximum(w, 0) / (self.scale * span)), 0, self.N)
                km = np.clip(np.rint(np.maximum(-w, 0) / (self.scale * span)), 0, self.N)
                on = np.concatenate([np.arange(self.N) < kp[..., None],
                                     np.arange(self.N) < km[..., None]], -1)
            else:
                k = np.clip(np.rint(frac * self.N), 0, self.N)
                on = np.arange(self.N) < k[..., None]
            cnt = np.where(on, self.set_counts(p.g_min, np.full(1, p.g_max - 0.01 * span))[0], 0)
        else:
            cnt = self.set_counts(p.g_init, targets)
        r, c, s = np.nonzero(cnt)
        if trace is not None:
            trace.extend(ProgramRequest(int(a), int(b), int(d), SET, int(cnt[a, b, d]))
                         for a, b, d in zip(r, c, s))
        self.apply_pulses(r, c, s, np.full(r.size, SET), cnt[r, c, s])

    def refresh_due(self) -> tuple[np.ndarray, np.ndarray]:
        """Synapses (rows, cols) whose G+ or G- group mean exceeds the refresh threshold."""
        if not self.diff:
            return _EMPTY, _EMPTY
        p = self.model.params
        lim = self.N * (p.g_min + self.config.refresh_threshold * (p.g_max - p.g_min))
        return np.nonzero((self.gp > lim) | (self.gm > lim))

    def refresh(self, r: np.ndarray, c: np.ndarray, trace: list | None = None) -> int:
        """Refresh synapses ``(r, c)``: read, RESET every slot (controller), re-program the weight."""
        r, c = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
        if r.size == 0:
            return 0
        p = self.model.params
        gsel = self.g[r, c]
        ids = self.device_ids(r[:, None], c[:, None], np.arange(self.D)[None, :])
        w_read = self.weights_from(self.model.read(gsel, ids, REFRESH_READ_BASE + self.refresh_events))
        self.refresh_events += 1
        rr, cc, ss, nn = [], [], [], []
        for a, b in zip(r.tolist(), c.tolist()):
            for req in self.arb.refresh(a, b):
                rr.append(req.row); cc.append(req.col); ss.append(req.slot); nn.append(req.count)
                if trace is not None:
                    trace.append(req)
        self.apply_pulses(rr, cc, ss, np.full(len(rr), RESET), nn)
        span = p.g_max - p.g_min
        if p.binary:
            n_on = np.clip(np.rint(np.abs(w_read) / (self.scale * span)), 0, self.N).astype(np.int64)
            full = self.set_counts(p.g_min, np.full(1, p.g_max - 0.01 * span))[0]
            cnt2 = np.where(np.arange(self.N)[None, :] < n_on[:, None], full, 0)
        else:
            per = np.abs(w_read) / (self.scale * self.N)
            cnt2 = np.repeat(self.set_counts(p.g_min, p.g_min + per)[:, None], self.N, 1)
        grp = np.where(w_read > 0, 0, self.N)
        r2 = np.repeat(r, self.N)
        c2 = np.repeat(c, self.N)
        s2 = (grp[:, None] + np.arange(self.N)[None, :]).ravel()
        n2 = cnt2.ravel()
        keep = n2 > 0
        r2, c2, s2, n2 = r2[keep], c2[keep], s2[keep], n2[keep]
        if trace is not None:
            trace.extend(ProgramRequest(int(a), int(b), int(d), SET, int(n))
                         for a, b, d, n in zip(r2, c2, s2, n2))
        self.apply_pulses(r2, c2, s2, np.full(r2.size, SET), n2)
        self.refreshes += r.size
        return int(r.size)


def apply_plans(arrays: list[SynapseArray], plans: list[PulsePlan]) -> int:
    """Apply the plans of several arrays sharing one store in a single vectorised device call."""
    store = arrays[0].store
    nonempty = [p for p in plans if p.rows.size]
    if len(nonempty) > 1:
        store.apply(np.concatenate([p.ids for p in nonempty]), np.concatenate([p.polarity for p in nonempty]),
                    np.concatenate([p.count for p in nonempty]))
        for arr, p in zip(arrays, plans):
            arr.commit(p, applied=True)
    else:
        for arr, p in zip(arrays, plans):
            arr.commit(p)
    return sum(p.pulses for p in plans)


def check_layer_fits(rows: int, cols: int) -> None:
    """Layers map onto one array each; the parameter tree bounds the array size."""
    from golden.spec.params import MAX_COLS, MAX_ROWS
    if rows > MAX_ROWS or cols > MAX_COLS:
        raise ConfigError(f"layer of {rows} x {cols} synapses does not fit one array "
                          f"(array.rows <= {MAX_ROWS}, array.cols <= {MAX_COLS})")


