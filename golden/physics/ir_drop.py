"""Voltage (IR) drop: a Kirchhoff-law ReRAM crossbar versus the 2T2R bridge with a capacitive neuron.

Conventional crossbar (the comparison point)
--------------------------------------------
A binarized neuron on a current-summing crossbar in the XNOR mapping: every input ``i`` (and every
bias cell, input tied to 1) owns two rows, ``x_i`` and ``not x_i``; the active one is driven at
``v_read``, the other at 0 V. The neuron owns two columns (+, -). On row ``x_i`` the + column holds
LRS if ``w_i = 1`` (HRS otherwise) and the - column the complement; on row ``not x_i`` the pattern is
swapped. Ideally ``I+ - I- = (G_LRS - G_HRS)*v_read*delta`` with ``delta = 2*P_tot - N_tot``, so the
decision ``I+ > I-`` equals the BNN's sign bit. Columns end in a virtual-ground sense node at the
bottom (row index R-1 side); rows are driven from the left end. Every wire segment between two cells
(row or column) has resistance ``r_wire`` and every cell is a device in series with an access
transistor ``r_access``. The network is linear, so the column currents are ``I = V @ T`` with a
transfer matrix ``T`` (rows x columns) that depends only on the conductances and wires, computed
exactly by reciprocity (one sparse solve per column, :func:`transfer_2d`) or, with ideal rows, by one
tridiagonal solve per column (:func:`column_transfer`). :func:`solve_crossbar` solves the full nodal
system for one input vector with ``scipy.sparse.linalg.spsolve`` (used to check both).
Decisions are scale-free: they depend on ``r_wire/R`` only, not on ``v_read``.

2T2R bridge
-----------
The bridge output is a divider voltage read by an inverter and summed as *charge* on capacitors: no
DC current flows along the summing (fan-in) direction, so the neuron's sum sees no IR drop at any
fan-in. The only DC current is through each selected bridge, BL -> BLb, ``~VDD/(R_LRS + R_HRS)``;
along a BL/BLb pair it adds up over the ``bank`` bridges selected together (fan-out direction).
:func:`bridge_row_drop` solves that ladder and reports the worst divider-voltage error against the
inverter margin.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu, spsolve

from golden.spec.params import LoOpen, check_float, check_floats, check_int


@dataclass(frozen=True)
class CrossbarParams:
    """Crossbar electrical parameters.

    Attributes
    ----------
    r_wire : float, ohm per segment, [0, 1e4]
        Column-wire resistance between two adjacent cells (and from the last cell to the sense node).
    r_wire_row : float or None, ohm per segment
        Row-wire resistance (None: same as ``r_wire``; 0: ideal row drivers at every cell).
    r_lrs, r_hrs, r_access : float, ohm
        Device medians and access-transistor resistance (defaults: the bridge's devices).
    v_read : float, V, (0, 2]
    """

    r_wire: float = 2.5
    r_wire_row: float | None = None
    r_lrs: float = 6e3
    r_hrs: float = 120e3
    r_access: float = 1e3
    v_read: float = 0.2

    def __post_init__(self):
        check_float("crossbar.r_wire", self.r_wire, 0.0, 1e4)
        if self.r_wire_row is not None:
            check_float("crossbar.r_wire_row", self.r_wire_row, 0.0, 1e4)
        check_floats(self, "crossbar", r_lrs=(1.0, 1e9), r_hrs=(1.0, 1e9), r_access=(0.0, 1e6),
                     v_read=LoOpen(0.0, 2.0))

    @property
    def row_r(self) -> float:
        return self.r_wire if self.r_wire_row is None else self.r_wire_row

    @property
    def g_lrs(self) -> float:
        return 1.0 / (self.r_lrs + self.r_access)

    @property
    def g_hrs(self) -> float:
        return 1.0 / (self.r_hrs + self.r_access)


# ---------------------------------------------------------------------------------------------
# nodal analysis
# ---------------------------------------------------------------------------------------------
def _nodal_matrix(g: np.ndarray, r_row: float, r_col: float):
    """Sparse conductance matrix of the crossbar. Unknowns: row nodes (R*C) then column nodes (R*C).

    Row node (i, j) = i*C + j; column node (i, j) = R*C + i*C + j. Row i is fed at (i, 0) from its
    driver through one row segment; column j leaves (R-1, j) to the sense node (0 V) through one
    column segment. Requires r_row > 0 and r_col > 0.
    """
    R, C = g.shape
    n = R * C
    gr, gc = 1.0 / r_row, 1.0 / r_col
    rows, cols, vals = [], [], []
    diag = np.zeros(2 * n)

    def link(a, b, val):
        rows.extend([a, b])
        cols.extend([b, a])
        vals.extend([-val, -val])
        np.add.at(diag, a, val)
        np.add.at(diag, b, val)

    ii, jj = np.meshgrid(np.arange(R), np.arange(C), indexing="ij")
    rn = (ii * C + jj).ravel()
    cn = n + rn
    link(rn, cn, g.ravel())                                    # cells
    mask = (jj < C - 1).ravel()
    link(rn[mask], rn[mask] + 1, np.full(mask.sum(), gr))      # row segments
    mask = (ii < R - 1).ravel()
    link(cn[mask], cn[mask] + C, np.full(mask.sum(), gc))      # column segments
    diag[ii[:, 0] * C] += gr                                   # driver segment of each row
    diag[n + (R - 1) * C + np.arange(C)] += gc                 # sense segment of each column
    rows = np.concatenate([np.concatenate([np.atleast_1d(r) for r in rows]), np.arange(2 * n)])
    cols = np.concatenate([np.concatenate([np.atleast_1d(c) for c in cols]), np.arange(2 * n)])
    vals = np.concatenate([np.concatenate([np.atleast_1d(v) for v in vals]), diag])
    return sp.csc_matrix((vals, (rows, cols)), shape=(2 * n, 2 * n))


def solve_crossbar(g: np.ndarray, v_rows: np.ndarray, r_row: float, r_col: float) -> dict:
    """Full Kirchhoff solution for one input vector (scipy.sparse.linalg.spsolve).

    Parameters
    ----------
    g : [R, C] cell conductances (S), v_rows : [R] driver voltages (V), r_row, r_col : ohm per segment.

    Returns
    -------
    dict with ``col_current`` [C] (A, into each sense node), ``driver_current`` [R] (A, out of each
    driver), ``v_row``/``v_col`` [R, C] node voltages, ``cell_current`` [R, C] (row node -> column node).
    With ``r_row = 0`` the row nodes are the driver voltages; with ``r_col = 0`` the column nodes are 0 V.
    """
    g = np.asarray(g, dtype=np.float64)
    v = np.asarray(v_rows, dtype=np.float64)
    R, C = g.shape
    if v.shape != (R,):
        raise ValueError(f"v_rows has shape {v.shape}, expected ({R},)")
    if r_row == 0 and r_col == 0:
        v_row = np.repeat(v[:, None], C, 1)
        v_col = np.zeros((R, C))
    elif r_row == 0:
        # unknowns: column nodes only (tridiagonal per column)
        gc = 1.0 / r_col
        n = R * C
        ii, jj = np.meshgrid(np.arange(R), np.arange(C), indexing="ij")
        idx = (ii * C + jj).ravel()
        diag = g.ravel() + gc * ((ii > 0).ravel() + 1.0)          # up segment (if any) + down segment
        up = idx[(ii > 0).ravel()]
        K = sp.csc_matrix((np.concatenate([diag, -gc * np.ones(len(up)), -gc * np.ones(len(up))]),
                           (np.concatenate([idx, up, up - C]), np.concatenate([idx, up - C, up]))),
                          shape=(n, n))
        v_col = spsolve(K, (g * v[:, None]).ravel()).reshape(R, C)
        v_row = np.repeat(v[:, None], C, 1)
    elif r_col == 0:
        gr = 1.0 / r_row
        n = R * C
        ii, jj = np.meshgrid(np.arange(R), np.arange(C), indexing="ij")
        idx = (ii * C + jj).ravel()
        diag = g.ravel() + gr * ((jj < C - 1).ravel() + 1.0)       # right segment (if any) + left segment
        left = idx[(jj > 0).ravel()]
        K = sp.csc_matrix((np.concatenate([diag, -gr * np.ones(len(left)), -gr * np.ones(len(left))]),
                           (np.concatenate([idx, left, left - 1]), np.concatenate([idx, left - 1, left]))),
                          shape=(n, n))
        b = np.zeros(n)
        b[np.arange(R) * C] = gr * v
        v_row = spsolve(K, b).reshape(R, C)
        v_col = np.zeros((R, C))
    else:
        K = _nodal_matrix(g, r_row, r_col)
        n = R * C
        b = np.zeros(2 * n)
        b[np.arange(R) * C] = v / r_row
        u = spsolve(K, b)
        v_row, v_col = u[:n].reshape(R, C), u[n:].reshape(R, C)
    cell = g * (v_row - v_col)
    if r_col == 0:
        col_current = cell.sum(0)
    else:
        col_current = v_col[-1] / r_col
    if r_row == 0:
        driver_current = cell.sum(1)
    else:
        driver_current = (v - v_row[:, 0]) / r_row
    return {"col_current": col_current, "driver_current": driver_current, "v_row": v_row,
            "v_col": v_col, "cell_current": cell}


def column_transfer(g: np.ndarray, r_col: float) -> np.ndarray:
    """Transfer matrix ``T`` [R, C] with ideal row drivers: ``I_col = v @ T``.

    By reciprocity ``T[:, j] = g[:, j] * psi_j`` where ``psi_j`` is the column-node voltage profile
    when the sense node is held at 1 V and every row at 0 V (one tridiagonal solve per column,
    vectorised over columns with the Thomas algorithm). ``r_col = 0`` gives ``T = g``.
    """
    g = np.asarray(g, dtype=np.float64)
    if r_col == 0:
        return g.copy()
    R, C = g.shape
    gc = 1.0 / r_col
    # K psi = gc * e_{R-1}; K tridiagonal: diag_i = g_i + gc*(i>0) + gc, off = -gc
    diag = g + gc
    diag[1:] += gc
    # forward sweep
    cp = np.zeros((R, C))
    dp = np.zeros((R, C))
    cp[0] = -gc / diag[0]
    dp[0] = 0.0
    for i in range(1, R):
        den = diag[i] + gc * cp[i - 1]
        cp[i] = -gc / den
        rhs = gc if i == R - 1 else 0.0
        dp[i] = (rhs + gc * dp[i - 1]) / den
    psi = np.zeros((R, C))
    psi[-1] = dp[-1]
    for i in range(R - 2, -1, -1):
        psi[i] = dp[i] - cp[i] * psi[i + 1]
    return g * psi


def transfer_2d(g: np.ndarray, r_row: float, r_col: float) -> np.ndarray:
    """Exact transfer matrix ``T`` [R, C] (``I_col = v @ T``) with row and column wire resistance.

    ``T[r, j] = (1/r_row) * (1/r_col) * (K^-1 e_bottom(j))[row node (r, 0)]`` (K symmetric): one LU
    factorisation (scipy.sparse.linalg.splu) and C solves.
    """
    g = np.asarray(g, dtype=np.float64)
    if r_row == 0:
        return column_transfer(g, r_col)
    R, C = g.shape
    if r_col == 0:
        # columns at 0 V: rows are independent ladders; unit drive on one row at a time
        T = np.zeros((R, C))
        for r in range(R):
            T[r] = solve_crossbar(g[r:r + 1], np.ones(1), r_row, 0.0)["col_current"]
        return T
    n = R * C
    K = _nodal_matrix(g, r_row, r_col)
    lu = splu(K)
    rhs = np.zeros((2 * n, C))
    rhs[n + (R - 1) * C + np.arange(C), np.arange(C)] = 1.0
    u = lu.solve(rhs)
    return u[np.arange(R) * C, :] / (r_row * r_col)


# ---------------------------------------------------------------------------------------------
# the BNN mapping
# ---------------------------------------------------------------------------------------------
def xnor_conductances(w_ext: np.ndarray, p: CrossbarParams) -> np.ndarray:
    """Conductances [2*N_tot, 2*M] of the XNOR mapping of weights ``w_ext`` [M, N_tot].

    Row ``2i`` is ``x_i``, row ``2i+1`` is ``not x_i``; column ``2j`` is neuron j's + column, ``2j+1``
    its - column.
    """
    w = np.asarray(w_ext).astype(bool).T          # [N, M]
    N, M = w.shape
    gl, gh = p.g_lrs, p.g_hrs
    g = np.empty((2 * N, 2 * M))
    g[0::2, 0::2] = np.where(w, gl, gh)    # x row, + column
    g[0::2, 1::2] = np.where(w, gh, gl)    # x row, - column
    g[1::2, 0::2] = np.where(w, gh, gl)    # not-x row, + column
    g[1::2, 1::2] = np.where(w, gl, gh)    # not-x row, - column
    return g


def row_voltages(x_ext: np.ndarray, v_read: float) -> np.ndarray:
    """Row drive voltages [batch, 2*N_tot] of input bits [batch, N_tot] (x rows and not-x rows)."""
    x = np.asarray(x_ext, dtype=np.float64)
    v = np.empty((x.shape[0], 2 * x.shape[1]))
    v[:, 0::2] = x * v_read
    v[:, 1::2] = (1 - x) * v_read
    return v


def crossbar_layer_transfer(w_ext: np.ndarray, p: CrossbarParams, tile: int = 16,
                            rows_ideal: bool = True) -> np.ndarray:
    """Transfer matrix [2*N_tot, 2*M] of a layer mapped on crossbar tiles of ``tile`` neurons
    (2*tile columns, own row drivers per tile). ``rows_ideal``: column wires only (exact per column,
    fast); otherwise row wires too (:func:`transfer_2d`)."""
    w_ext = np.asarray(w_ext)
    M = w_ext.shape[0]
    out = []
    for j0 in range(0, M, tile):
        g = xnor_conductances(w_ext[j0:j0 + tile], p)
        if rows_ideal or p.row_r == 0:
            out.append(column_transfer(g, p.r_wire))
        else:
            out.append(transfer_2d(g, p.row_r, p.r_wire))
    return np.concatenate(out, axis=1)


def crossbar_decisions(x_ext: np.ndarray, T: np.ndarray, v_read: float) -> tuple[np.ndarray, np.ndarray]:
    """(bits [batch, M], differential current I+ - I- [batch, M]) of a crossbar layer."""
    i = row_voltages(x_ext, v_read) @ T
    diff = i[:, 0::2] - i[:, 1::2]
    return (diff > 0).astype(np.uint8), diff


# ---------------------------------------------------------------------------------------------
# 2T2R bridge: the fan-out (BL/BLb) direction
# ---------------------------------------------------------------------------------------------
def bridge_row_drop(bank: int, r_wire: float, r_lrs: float = 6e3, r_hrs: float = 120e3,
                    r_access: float = 1e3, vdd: float = 0.8) -> dict:
    """Divider voltages along one BL/BLb pair that feeds ``bank`` selected bridges (x = 1: BL at VDD
    from the left end, BLb at 0 V from the left end; every bridge top LRS / bottom HRS, i.e. the worst
    case: every bridge conducts ``~VDD/(R_L + R_H)``). Linear nodal solve (spsolve).

    Returns the SL voltages (V) of the bridges, the ideal value, the worst deviation as a fraction of
    the inverter margin ``|V_ideal - VDD/2|`` and the total line current.
    """
    check_int("bank", bank, 1, 1 << 16)
    check_float("r_wire", r_wire, 0.0, 1e4)
    K = bank
    gt = 1.0 / (r_lrs + r_access)     # BL -> SL
    gb = 1.0 / (r_hrs + r_access)     # SL -> BLb
    if r_wire == 0:
        v_sl = np.full(K, vdd * gt / (gt + gb))
        return {"v_sl": v_sl, "v_ideal": float(v_sl[0]), "margin_used": 0.0,
                "line_current": float(K * vdd * gt * gb / (gt + gb))}
    gw = 1.0 / r_wire
    # unknowns: BL nodes (K), SL nodes (K), BLb nodes (K)
    n = 3 * K
    A = sp.lil_matrix((n, n))
    b = np.zeros(n)
    bl, sl, blb = np.arange(K), K + np.arange(K), 2 * K + np.arange(K)

    def link(a, c, g):
        A[a, a] += g
        A[c, c] += g
        A[a, c] -= g
        A[c, a] -= g

    for k in range(K):
        link(bl[k], sl[k], gt)
        link(sl[k], blb[k], gb)
        if k + 1 < K:
            link(bl[k], bl[k + 1], gw)
            link(blb[k], blb[k + 1], gw)
    A[bl[0], bl[0]] += gw
    b[bl[0]] += gw * vdd        # BL driver at VDD
    A[blb[0], blb[0]] += gw     # BLb driver at 0 V
    u = spsolve(A.tocsc(), b)
    v_sl = u[sl]
    v_ideal = vdd * gt / (gt + gb)
    margin = abs(v_ideal - vdd / 2)
    return {"v_sl": v_sl, "v_ideal": float(v_ideal),
            "margin_used": float(np.max(np.abs(v_sl - v_ideal)) / margin),
            "line_current": float((vdd - u[bl[0]]) * gw)}
