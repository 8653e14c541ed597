"""Parametric energy model of a 2T2R-bridge BNN layer with capacitive neurons, projected to 22 nm.

One neuron evaluation (``N`` inputs, ``B`` bias cells, ``N_tot = N + B`` bridges) costs

``E = N_tot * (e_bridge + e_line + e_wl + e_inv + e_cap) + e_sa + e_periph``

* ``e_bridge = VDD^2 * t_read / (R_LRS + R_HRS + 2 r_access)``: DC current through the divider
  while the bridge is read; the read pulse lasts ``t_read = max(t_read_min, read_duty*T_clk)``.
* ``e_line = c_bl_cell * VDD^2``: one of BL/BLb of every input swings to VDD per evaluation
  (return-to-zero drive); ``c_bl_cell`` is the BL capacitance per bridge on the line, so a line
  shared by ``bank`` bridges costs ``bank*c_bl_cell*VDD^2`` and per bridge ``c_bl_cell*VDD^2``.
* ``e_wl = c_wl_cell * v_wl^2``: word line (two access-transistor gates + wire per bridge).
* ``e_inv = c_inv * VDD^2 * activity``: the source-line inverter's own output capacitance.
* ``e_cap = c_unit * VDD^2 * activity``: the unit capacitor of the neuron driven by the bridge
  (each cell drives one capacitor of the differential pair), plus equalisation (charge lost =
  ``activity*C*VDD^2``).
* ``e_sa``: clocked StrongARM-type sense amplifier per decision; ``e_periph``: per-neuron digital
  periphery (sequencer, output register, bias-cell-free readout).

Operations: ``2*N`` per neuron evaluation (XNOR + accumulate; bias cells are not counted).
Energy per synaptic operation = ``E / (2N)``; ``TOPS/W = 1e-12 / (E / (2N))``.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

from golden.bnn.model_params import n_bias_cells
from golden.spec.params import check_float, check_floats, check_int


@dataclass(frozen=True)
class EnergyParams:
    """Assumptions of the 22 nm projection (SI units: V, F, s, J, ohm).

    Attributes
    ----------
    vdd : 0.8 V (22 nm core supply)
    v_wl : 0.9 V word-line level (slightly boosted for the access transistors)
    r_lrs, r_hrs, r_access : 6 kOhm, 120 kOhm, 1 kOhm (the bridge's devices, :mod:`golden.bnn.model_params`)
    t_read_min : 0.5 ns; read_duty : 0.1 (read pulse = 10 % of the SA clock, at least 0.5 ns)
    c_bl_cell : 0.15 fF BL capacitance per bridge (wire over one cell pitch + drain junction)
    c_wl_cell : 0.20 fF word-line capacitance per bridge (two gates + wire)
    c_inv : 0.10 fF inverter output (self) capacitance
    c_unit : 1 fF neuron unit (MOM) capacitor
    activity : 0.5 probability that a cell's capacitor/inverter output toggles
    e_sa : 10 fJ per SA decision (22 nm StrongARM latch incl. its clock buffer)
    e_periph : 20 fJ per neuron decision (sequencer, output register)
    """

    vdd: float = 0.8
    v_wl: float = 0.9
    r_lrs: float = 6e3
    r_hrs: float = 120e3
    r_access: float = 1e3
    t_read_min: float = 0.5e-9
    read_duty: float = 0.1
    c_bl_cell: float = 0.15e-15
    c_wl_cell: float = 0.20e-15
    c_inv: float = 0.10e-15
    c_unit: float = 1e-15
    activity: float = 0.5
    e_sa: float = 10e-15
    e_periph: float = 20e-15

    def __post_init__(self):
        farad = (0.0, 1e-12)
        check_floats(self, "energy", vdd=(0.3, 3.3), v_wl=(0.3, 3.3), r_lrs=(1.0, 1e9), r_hrs=(1.0, 1e9),
                     r_access=(0.0, 1e6), t_read_min=(0.0, 1e-6), read_duty=(0.0, 1.0), c_bl_cell=farad,
                     c_wl_cell=farad, c_inv=farad, c_unit=farad, activity=(0.0, 1.0), e_sa=(0.0, 1e-11),
                     e_periph=(0.0, 1e-11))


def neuron_energy(n_inputs: int, sa_clock_ns: float = 10.0, p: EnergyParams | None = None,
                  bias_fraction: float = 0.05) -> dict:
    """Energy breakdown (J) of one neuron evaluation and the derived figures of merit.

    Returns a dict with the per-cell terms, ``e_neuron``, ``ops`` (2N), ``e_per_op`` (J),
    ``tops_per_w``, ``t_read`` (s) and ``n_tot``.
    """
    p = p or EnergyParams()
    check_int("n_inputs", n_inputs, 1, 1 << 20)
    check_float("sa_clock_ns", sa_clock_ns, 1.0, 100.0)
    n_tot = n_inputs + n_bias_cells(n_inputs, bias_fraction)
    t_read = max(p.t_read_min, p.read_duty * sa_clock_ns * 1e-9)
    per_cell = {
        "bridge_dc": p.vdd ** 2 * t_read / (p.r_lrs + p.r_hrs + 2 * p.r_access),
        "bl_line": p.c_bl_cell * p.vdd ** 2,
        "word_line": p.c_wl_cell * p.v_wl ** 2,
        "inverter": p.c_inv * p.vdd ** 2 * p.activity,
        "unit_cap": p.c_unit * p.vdd ** 2 * p.activity,
    }
    cells = n_tot * sum(per_cell.values())
    e = cells + p.e_sa + p.e_periph
    ops = 2 * n_inputs
    e_op = e / ops
    return {"per_cell": per_cell, "e_cells": cells, "e_sa": p.e_sa, "e_periph": p.e_periph,
            "e_neuron": e, "ops": ops, "e_per_op": e_op, "tops_per_w": 1e-12 / e_op,
            "t_read": t_read, "n_tot": n_tot}


def network_energy(sizes: list[int], sa_clock_ns: float = 10.0, p: EnergyParams | None = None,
                   bias_fraction: float = 0.05) -> dict:
    """Energy per inference of an MLP ``sizes = [n_in, h1, ..., n_out]`` (the last layer is counted as
    hidden-like neurons without bias cells: popcount read-out energy ~ e_periph)."""
    p = p or EnergyParams()
    total, ops = 0.0, 0
    layers = []
    for li, (fi, fo) in enumerate(itertools.pairwise(sizes)):
        last = li == len(sizes) - 2
        r = neuron_energy(fi, sa_clock_ns, p, 0.0 if last else bias_fraction)
        layers.append({"fan_in": fi, "neurons": fo, "e_layer": fo * r["e_neuron"], "tops_per_w": r["tops_per_w"]})
        total += fo * r["e_neuron"]
        ops += fo * r["ops"]
    return {"e_inference": total, "ops": ops, "e_per_op": total / ops, "tops_per_w": 1e-12 / (total / ops),
            "layers": layers, "assumptions": asdict(p)}
