"""Multi-ReRAM synapse array (Boybat et al.): N devices per weight, counter-based arbitration.

One :class:`SynapseArray` is one crossbar of ``rows x cols`` synapses (``params.array``), each made of
``D = params.synapse.slots`` devices laid out as the hardware does (:mod:`golden.params`): synapse
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
1. The float update ``dW`` is quantised to integer LSBs of the UpdateUnit: ``dw = saturate(rint(dW /
   lsb), update.dw_width)`` with ``lsb = scale * nominal_step / update.eps``: one threshold ``eps``
   equals the weight change of one *mean* device pulse (:attr:`golden.device.DeviceParams.nominal_step`).
   Rounding is to nearest, ties to even, computed in float32.
2. The host sends an :class:`~golden.transactions.UpdateRequest` for every synapse with ``dw != 0``
   (row-major order); the UpdateUnit (:func:`golden.update_unit.update_rule`) accumulates and
   emits signed pulse counts.
3. The ArbitrationController (:mod:`golden.arbitration_controller`) maps each count to one device
   slot and polarity for this update cycle; its selection counters advance in ``end_cycle``.
4. The device model applies the pulses (``count`` pulses of one polarity on one device).

The vectorised path here produces exactly the transactions of stepping the twins request by request
(tests/test_synapse_array.py checks it); pass ``trace=[]`` to collect them.

Refresh (differential mode): a synapse whose G+ or G- group mean exceeds ``g_min + threshold *
(g_max - g_min)`` (nominal bounds) is refreshed: its devices are read (with read noise), the
controller's ``refresh(row, col)`` RESET pulses are applied to every slot, and the read weight is
re-programmed open loop into the G+ (w > 0) or G- (w < 0) group, spread evenly over its N devices,
with the number of SET pulses taken from the nominal mean response (:meth:`SynapseArray.set_counts`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rng
from .device import RESET, SET, DeviceModel, DeviceParams, PerDevice
from .params import AccelParams, ConfigError, check_float
from .transactions import ProgramRequest, UpdateRequest

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
    from .arbitration_controller import ArbitrationController
    return ArbitrationController(params)


class SynapseArray:
    """State of one crossbar: conductances, per-device pulse counters, chi, arbitration.

    Parameters
    ----------
    params : AccelParams
        ``array.rows x array.cols`` synapses; ``synapse`` (N, differential, increment, periods,
        refresh_pulses) and ``update`` (fixed-point formats) as the hardware.
    model : DeviceModel
        Device model (its seed fixes the chip).
    config : ArrayConfig
        Weight window and refresh threshold.
    id_base : int
        Offset of this array's device ids (distinct arrays on one chip use disjoint id ranges).
    """

    def __init__(self, params: AccelParams, model: DeviceModel, config: ArrayConfig | None = None,
                 id_base: int = 0):
        self.params = params
        self.model = model
        self.config = config or ArrayConfig()
        self.id_base = int(id_base)
        sp, up, dp = params.synapse, params.update, model.params
        self.rows, self.cols = params.array.rows, params.array.cols
        self.N, self.D, self.diff = sp.devices, sp.slots, sp.differential
        self.n_devices = self.rows * self.cols * self.D
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
        # float32 holds every chi value exactly up to 24 bits; wider accumulators use float64
        self.chi_dtype = np.float32 if up.chi_width <= 24 else np.float64
        self.chi = np.zeros((self.rows, self.cols), dtype=self.chi_dtype)
        self._chi_bound = float(self.eps - 1)               # bound on |chi| (skips saturation checks)
        self.slot_sign = np.ones(self.D)
        if self.diff:
            self.slot_sign[self.N:] = -1.0
        ids = self.id_base + np.arange(self.n_devices, dtype=np.int64)
        self.dev: PerDevice = model.per_device(ids)
        self.g = model.initial(ids, dev=self.dev).reshape(self.rows, self.cols, self.D)
        self.k = np.zeros((self.rows, self.cols, self.D), dtype=np.int64)   # per-device pulse counter
        self.arb = _arbiter(params)
        self.cycles = 0
        self.refresh_events = 0
        self.pulse_total = 0
        self.refreshes = 0
        self._recompute_all()

    # --- read-out -------------------------------------------------------------------------------
    def device_ids(self, rows, cols, slots) -> np.ndarray:
        """Global device ids of (row, col, slot) (broadcast)."""
        return self.id_base + (np.asarray(rows) * self.cols + np.asarray(cols)) * self.D + np.asarray(slots)

    def _sums(self, g: np.ndarray):
        """(signed sum, G+ sum, G- sum, sum of squares) over the last (slot) axis."""
        gp = g[..., :self.N].sum(axis=-1)
        gm = g[..., self.N:].sum(axis=-1) if self.diff else np.zeros_like(gp)
        return gp - gm, gp, gm, (g * g).sum(axis=-1)

    def weights_from(self, g: np.ndarray) -> np.ndarray:
        """Weights (float64) from conductances shaped ``(..., D)``."""
        s = self._sums(g)[0]
        return self.scale * (s - self.ref)

    def _recompute_all(self) -> None:
        s, gp, gm, q = self._sums(self.g)
        self.gp, self.gm = gp, gm
        self.W = (self.scale * (s - self.ref)).astype(np.float32)
        self.Q = q.astype(np.float32)

    def _recompute(self, r: np.ndarray, c: np.ndarray) -> None:
        s, gp, gm, q = self._sums(self.g[r, c])
        self.gp[r, c], self.gm[r, c] = gp, gm
        self.W[r, c] = self.scale * (s - self.ref)
        self.Q[r, c] = q

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
        var = (p.read_mult ** 2) * (a2 @ q) + (self.D * p.read_add ** 2) * a2.sum(axis=-1, keepdims=a2.ndim > 1)
        return (self.scale ** 2) * var

    def read_noise_var_t(self, d2: np.ndarray) -> np.ndarray:
        """Variance of the transposed read ``W_read @ d`` (backward pass), given ``d2 = d**2``."""
        p = self.model.params
        return (self.scale ** 2) * ((p.read_mult ** 2) * (self.Q @ d2) + (self.D * p.read_add ** 2) * d2.sum())

    # --- pulses -----------------------------------------------------------------------------------
    def apply_pulses(self, r, c, slot, polarity, count) -> None:
        """Apply ``count`` pulses of ``polarity`` to device ``slot`` of synapse ``(r, c)`` (arrays)."""
        r, c, slot, pol, cnt = (np.atleast_1d(np.asarray(v, dtype=np.int64)) for v in (r, c, slot, polarity, count))
        if r.size == 0:
            return
        flat = (r * self.cols + c) * self.D + slot
        gf, kf = self.g.reshape(-1), self.k.reshape(-1)
        nmax = int(cnt.max())
        for j in range(nmax):
            if j:
                keep = cnt > j
                flat, pol, cnt = flat[keep], pol[keep], cnt[keep]
            gf[flat] = self.model.pulse(gf[flat], self.id_base + flat, kf[flat], pol, dev=self.dev.take(flat))
            kf[flat] += 1
            self.pulse_total += flat.size
        self._recompute(r, c)

    # --- update cycle ---------------------------------------------------------------------------
    def quantise(self, a: np.ndarray, delta: np.ndarray, lr: float) -> np.ndarray:
        """Integer updates (as float) for ``dW = -lr * outer(a, delta)``; see the module docstring."""
        d = (np.float32(-lr / self.lsb) * np.asarray(delta, dtype=np.float32)).astype(np.float32)
        dw = np.multiply.outer(np.asarray(a, dtype=np.float32), d)
        np.rint(dw, out=dw)
        amax = float(np.abs(a).max(initial=0.0))
        if amax * float(np.abs(d).max(initial=0.0)) >= self.dw_hi:
            np.clip(dw, self.dw_lo, self.dw_hi, out=dw)
        return dw

    def update(self, rows: np.ndarray | None, a: np.ndarray, delta: np.ndarray, lr: float,
               trace: list | None = None) -> int:
        """One update cycle: ``dW[rows] = -lr * outer(a, delta)`` through UpdateUnit + arbitration.

        Parameters
        ----------
        rows : int array or None
            The array rows whose input ``a`` is non-zero (None: all rows, ``a`` full length). Rows
            left out have ``dw = 0`` everywhere, so they send no request.
        a : float array (len(rows),)
            Layer input on those rows.
        delta : float array (cols,)
            Back-propagated error of the layer outputs.
        lr : float
            Learning rate.
        trace : list, optional
            If given, receives the UpdateRequests (row-major) and then the ProgramRequests of the cycle.

        Returns the number of pulses applied.
        """
        if rows is None:
            rows = np.arange(self.rows)
        dw = self.quantise(a, delta, lr)
        s = self.chi[rows]
        s += dw
        if self._chi_bound + float(np.abs(dw).max(initial=0.0)) > self.chi_hi:
            np.clip(s, self.chi_lo, self.chi_hi, out=s)
        cand = np.flatnonzero(np.abs(s) >= self.eps)
        if trace is not None:
            nz = np.flatnonzero(dw)
            trace.extend(UpdateRequest(int(rows[i // self.cols]), int(i % self.cols), int(dw.flat[i])) for i in nz)
        if cand.size:
            cand = cand[dw.flat[cand] != 0]      # no request, no pulse (chi may hold >= eps after saturation)
        self.chi[rows] = s
        if cand.size == 0:
            self._end_cycle()
            return 0
        sv = s.flat[cand].astype(np.int64)
        n = np.minimum(np.abs(sv) // self.eps, self.max_count)
        counts = np.where(sv >= 0, n, -n)
        rem = sv - counts * self.eps
        r = rows[cand // self.cols]
        c = cand % self.cols
        self.chi[r, c] = rem
        if n.max() == self.max_count:
            self._chi_bound = max(self._chi_bound, float(np.abs(rem).max()))
        return self._program(r, c, counts, trace)

    def _program(self, r, c, counts, trace) -> int:
        """Route signed pulse counts through the arbitration controller and apply them."""
        arb = self.arb
        pos = counts > 0
        neg = ~pos
        d = arb.decision()
        sel_r, sel_c, sel_s, sel_pol, sel_cnt = [], [], [], [], []
        pot_any = bool(d.pot_enabled and pos.any())
        dep_any = bool(d.dep_enabled and neg.any())
        skipped = (0 if d.pot_enabled else int(pos.sum())) + (0 if d.dep_enabled else int(neg.sum()))
        if pot_any:
            sel_r.append(r[pos]); sel_c.append(c[pos]); sel_s.append(np.full(pos.sum(), d.pot_slot))
            sel_pol.append(np.full(pos.sum(), SET)); sel_cnt.append(counts[pos])
        if dep_any:
            sel_r.append(r[neg]); sel_c.append(c[neg]); sel_s.append(np.full(neg.sum(), d.dep_slot))
            sel_pol.append(np.full(neg.sum(), arb.dep_polarity)); sel_cnt.append(-counts[neg])
        applied = 0
        if sel_r:
            rr, cc, ss, pp, nn = (np.concatenate(v) for v in (sel_r, sel_c, sel_s, sel_pol, sel_cnt))
            if trace is not None:
                order = np.lexsort((cc, rr))
                trace.extend(ProgramRequest(int(rr[i]), int(cc[i]), int(ss[i]), int(pp[i]), int(nn[i]))
                             for i in order)
            self.apply_pulses(rr, cc, ss, pp, nn)
            applied = int(nn.sum())
        arb.record(pot_any, dep_any, skipped)
        self._end_cycle()
        return applied

    def _end_cycle(self) -> None:
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
        Counts come from the nominal mean response starting at ``g_init``.
        """
        p = self.model.params
        w = np.asarray(w, dtype=np.float64)
        per = w / (self.scale * self.N)
        if self.diff:
            tp = p.g_init + np.maximum(per, 0.0)
            tm = p.g_init + np.maximum(-per, 0.0)
            targets = np.concatenate([np.repeat(tp[..., None], self.N, -1), np.repeat(tm[..., None], self.N, -1)], -1)
        else:
            targets = np.repeat((self.g_ref + per)[..., None], self.N, -1)
        cnt = self.set_counts(p.g_init, targets)
        r, c, s = np.nonzero(cnt)
        if trace is not None:
            trace.extend(ProgramRequest(int(a), int(b), int(d), SET, int(cnt[a, b, d])) for a, b, d in zip(r, c, s))
        self.apply_pulses(r, c, s, np.full(r.size, SET), cnt[r, c, s])

    def refresh_due(self) -> tuple[np.ndarray, np.ndarray]:
        """Synapses (rows, cols) whose G+ or G- group mean exceeds the refresh threshold."""
        if not self.diff:
            e = np.empty(0, dtype=np.int64)
            return e, e
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
        per = np.abs(w_read) / (self.scale * self.N)
        cnt = self.set_counts(p.g_min, p.g_min + per)
        grp = np.where(w_read > 0, 0, self.N)
        r2 = np.repeat(r, self.N)
        c2 = np.repeat(c, self.N)
        s2 = (grp[:, None] + np.arange(self.N)[None, :]).ravel()
        n2 = np.repeat(cnt, self.N)
        keep = n2 > 0
        r2, c2, s2, n2 = r2[keep], c2[keep], s2[keep], n2[keep]
        if trace is not None:
            trace.extend(ProgramRequest(int(a), int(b), int(d), SET, int(n)) for a, b, d, n in zip(r2, c2, s2, n2))
        self.apply_pulses(r2, c2, s2, np.full(r2.size, SET), n2)
        self.refreshes += r.size
        return int(r.size)


def check_layer_fits(rows: int, cols: int) -> None:
    """Layers map onto one array each; the parameter tree bounds the array size."""
    from .params import MAX_COLS, MAX_ROWS
    if rows > MAX_ROWS or cols > MAX_COLS:
        raise ConfigError(f"layer of {rows} x {cols} synapses does not fit one array "
                          f"(array.rows <= {MAX_ROWS}, array.cols <= {MAX_COLS})")


__all__ = ["ArrayConfig", "SynapseArray", "symmetry_point", "nominal_trajectory", "REFRESH_READ_BASE", "rng"]
