"""Energy model of the 2T2R/capacitive-neuron BNN (22 nm projection): units and scaling."""
from __future__ import annotations

import pytest

from golden.bnn.energy import EnergyParams, network_energy, neuron_energy
from golden.spec.params import ConfigError


def test_per_cell_terms_by_hand():
    p = EnergyParams()
    r = neuron_energy(1025, sa_clock_ns=10.0, p=p)
    assert r["t_read"] == pytest.approx(1e-9)                        # 10 % of 10 ns
    assert r["per_cell"]["bridge_dc"] == pytest.approx(0.8 ** 2 * 1e-9 / 128e3)   # J = V^2 s / ohm
    assert r["per_cell"]["unit_cap"] == pytest.approx(0.5 * 1e-15 * 0.64)           # J = F V^2
    assert r["n_tot"] == 1025 + 102
    assert r["ops"] == 2050
    assert r["e_neuron"] == pytest.approx(r["e_cells"] + p.e_sa + p.e_periph)
    assert r["e_per_op"] == pytest.approx(r["e_neuron"] / 2050)
    assert r["tops_per_w"] == pytest.approx(1e-12 / r["e_per_op"])    # op/J -> TOPS/W
    assert 1e-16 < r["e_per_op"] < 1e-13                              # fJ range


def test_scaling():
    a = neuron_energy(1025, 10.0)
    b = neuron_energy(1025, 20.0)
    assert b["per_cell"]["bridge_dc"] == pytest.approx(2 * a["per_cell"]["bridge_dc"])
    assert neuron_energy(1025, 1.0)["t_read"] == pytest.approx(0.5e-9)   # floor t_read_min
    # the fixed SA/periphery cost is amortised over more inputs
    assert neuron_energy(23, 10.0)["e_per_op"] > neuron_energy(1025, 10.0)["e_per_op"]
    net = network_energy([784, 1025, 1025, 1025, 10])
    assert net["ops"] == 2 * (784 * 1025 + 1025 * 1025 * 2 + 1025 * 10)
    assert net["e_inference"] == pytest.approx(sum(lay["e_layer"] for lay in net["layers"]))


def test_bad_energy_params():
    with pytest.raises(ConfigError, match=r"energy\.vdd = 5\.0 is out of range"):
        EnergyParams(vdd=5.0)
    with pytest.raises(ConfigError, match=r"energy\.activity"):
        EnergyParams(activity=2.0)
