"""Kirchhoff crossbar solver (IR drop) and the 2T2R bridge's fan-out ladder."""
from __future__ import annotations

import numpy as np
import pytest

from golden.bnn.network import popcount_xnor
from golden.physics.ir_drop import (
    CrossbarParams,
    bridge_row_drop,
    column_transfer,
    crossbar_decisions,
    crossbar_layer_transfer,
    solve_crossbar,
    transfer_2d,
    xnor_conductances,
)
from golden.spec.params import ConfigError


def test_hand_solved_2x2_column_wires():
    """Ideal rows, g = 1 mS per cell, 1 kOhm per column segment. Node equations of one column
    (top u0, bottom u1, sense node at 0 V): V0 - u0 = u0 - u1 and V1 - u1 + u0 - u1 = u1, so
    u0 = (3 V0 + V1)/5, u1 = (V0 + 2 V1)/5 and I = u1 / 1 kOhm."""
    g = np.full((2, 2), 1e-3)
    for v0, v1 in ((1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.3, 0.7)):
        res = solve_crossbar(g, np.array([v0, v1]), r_row=0.0, r_col=1e3)
        expect = (v0 + 2 * v1) / 5 * 1e-3
        assert res["col_current"] == pytest.approx([expect, expect], rel=1e-12)
        assert res["v_col"][0] == pytest.approx([(3 * v0 + v1) / 5] * 2, rel=1e-12)


def test_2x2_with_row_and_column_wires_against_dense_kirchhoff():
    """Both wires: compare with a dense nodal system written out by hand for the 8 nodes."""
    g = np.array([[1e-3, 2e-3], [0.5e-3, 4e-3]])
    v = np.array([0.9, 0.4])
    rr, rc = 50.0, 80.0
    Gr, Gc = 1 / rr, 1 / rc
    # nodes: r00 r01 r10 r11 c00 c01 c10 c11
    A = np.zeros((8, 8))
    b = np.zeros(8)

    def link(i, j, gg):
        A[i, i] += gg
        A[j, j] += gg
        A[i, j] -= gg
        A[j, i] -= gg

    link(0, 1, Gr)
    link(2, 3, Gr)                       # row segments
    link(4, 6, Gc)
    link(5, 7, Gc)                       # column segments
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        link(k, 4 + k, g[i, j])          # cells
    A[0, 0] += Gr
    b[0] += Gr * v[0]                    # drivers
    A[2, 2] += Gr
    b[2] += Gr * v[1]
    A[6, 6] += Gc
    A[7, 7] += Gc                        # sense nodes at 0 V
    u = np.linalg.solve(A, b)
    res = solve_crossbar(g, v, rr, rc)
    assert res["col_current"] == pytest.approx([u[6] * Gc, u[7] * Gc], rel=1e-10)
    assert res["v_row"].ravel() == pytest.approx(u[:4], rel=1e-10)


@pytest.mark.parametrize("r_row, r_col", [(0.0, 0.0), (0.0, 5.0), (3.0, 0.0), (3.0, 5.0)])
def test_kirchhoff_current_conservation_and_transfer(seed, r_row, r_col):
    rng = np.random.default_rng(seed)
    g = rng.uniform(1e-6, 2e-4, (40, 12))
    v = rng.uniform(0, 0.2, 40)
    res = solve_crossbar(g, v, r_row, r_col)
    # total current out of the drivers = total current into the sense nodes
    assert res["driver_current"].sum() == pytest.approx(res["col_current"].sum(), rel=1e-9)
    # KCL on every column: the current into a sense node = sum of its cell currents
    assert res["col_current"] == pytest.approx(res["cell_current"].sum(0), rel=1e-9)
    # transfer matrices (reciprocity) reproduce the direct solve
    assert v @ transfer_2d(g, r_row, r_col) == pytest.approx(res["col_current"], rel=1e-8)
    if r_row == 0:
        assert v @ column_transfer(g, r_col) == pytest.approx(res["col_current"], rel=1e-8)
    # wire resistance can only reduce the current of a column fed by non-negative drivers
    assert np.all(res["col_current"] <= v @ g * (1 + 1e-12))


def test_zero_wire_crossbar_computes_the_bnn_decision(seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 2, (16, 45), dtype=np.uint8)
    x = rng.integers(0, 2, (30, 45), dtype=np.uint8)
    p = CrossbarParams(r_wire=0.0)
    bits, diff = crossbar_decisions(x, crossbar_layer_transfer(w, p), p.v_read)
    delta = 2 * popcount_xnor(x, w) - 45
    assert np.allclose(diff, (p.g_lrs - p.g_hrs) * p.v_read * delta)
    assert np.array_equal(bits, (delta > 0).astype(np.uint8))
    # a resistive column no longer does, at a large fan-in
    g = xnor_conductances(w, p)
    assert g.shape == (90, 32)


def test_bridge_row_drop():
    assert bridge_row_drop(32, 0.0)["margin_used"] == 0.0
    small, big = bridge_row_drop(32, 2.5), bridge_row_drop(1024, 2.5)
    assert small["margin_used"] < 0.05 < big["margin_used"]
    assert big["line_current"] > small["line_current"]
    with pytest.raises(ConfigError, match="r_wire"):
        bridge_row_drop(8, -1.0)


def test_crossbar_params_checked():
    with pytest.raises(ConfigError, match=r"crossbar\.r_wire = -1\.0 is out of range"):
        CrossbarParams(r_wire=-1.0)
