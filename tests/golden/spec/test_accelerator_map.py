"""The accelerator's concrete register map: registers present, build-time constants, field codecs."""
from __future__ import annotations

import pytest

from golden.spec.bnn_datapath_params import PHASES, BnnHwParams
from golden.spec.params import AccelParams, ConfigError
from golden.spec.register_map.accelerator_map import accelerator_register_map

CONFIGS = {
    "default": AccelParams(),
    "diff-2t2r": AccelParams().with_(array={"rows": 5, "cols": 3, "cell": "2T2R"},
                                     synapse={"devices": 3, "increment": 2, "differential": True}),
    "large": AccelParams().with_(array={"rows": 4096, "cols": 4096}, synapse={"devices": 1},
                                 update={"dw_width": 16, "chi_width": 40, "eps": (1 << 39) - 1}),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_accelerator_map_is_consistent(name):
    p = CONFIGS[name]
    m = accelerator_register_map(p)
    addrs = [r.addr for r in m.registers]
    assert len(set(addrs)) == len(addrs) and all(a % 4 == 0 and a < 1 << m.addr_width for a in addrs)
    for must in ("id", "version", "ctrl", "status", "events", "errors", "irq_enable", "timing0", "timing1",
                 "pulse_count", "request_count", "skipped_count", "refresh_count", "busy_cycles", "update",
                 "refresh", "program", "read_req", "read_data"):
        assert must in m, must
    assert not any(r.name.startswith("bnn_") for r in m.registers)   # no BNN path asked for
    mb = accelerator_register_map(p, bnn=BnnHwParams())
    for must in ("bnn_cfg0", "bnn_cfg1", "bnn_ctrl", "bnn_phase", "bnn_input", "bnn_out_index", "bnn_out_data"):
        assert must in mb, must
    assert mb["bnn_cfg0"].decode(mb["bnn_cfg0"].reset_value) == {"inputs_m1": 63, "neurons_m1": 32, "bank_m1": 3}
    assert [n for n, _ in mb["bnn_phase"].field("phase").values] == list(PHASES)
    # PROGRAM holds row, col, slot, polarity and a 4-bit count in one word for every array size
    assert {f.name for f in m["program"].fields} == {"row", "col", "slot", "polarity", "count"}
    # build-time constants reproduce the parameters
    assert m["id"].reset_value == 0x52524143
    cfg = m["array_cfg"]
    assert cfg.field("rows_m1").const == p.array.rows - 1 and cfg.field("cols_m1").const == p.array.cols - 1
    eps = m["eps"].field("value").const | m["eps_hi"].field("value").const << 32
    assert eps == p.update.eps
    # the update request carries row, col and dw (in one push word, or with UPDATE_ADDR when too wide)
    upd = m["update"]
    assert upd.push and upd.field("dw").width == p.update.dw_width and upd.field("dw").signed
    names = {f.name for f in upd.fields} | ({f.name for f in m["update_addr"].fields} if "update_addr" in m else set())
    assert names == {"row", "col", "dw", "end_cycle", "marker"}
    assert ("update_addr" in m) == (p.row_width + p.col_width + p.update.dw_width > 32)
    # the (build-time) timing is visible as constants
    t0 = m["timing0"]
    assert [t0.field(f).const for f in ("setup", "width", "gap", "settle")] == [
        p.timing.setup, p.timing.width, p.timing.gap, p.timing.settle]


def test_accelerator_map_rejects_bad_options():
    with pytest.raises(ConfigError, match=r"fifo_depth = 1 is out of range: allowed \[2, 255\]"):
        accelerator_register_map(AccelParams(), fifo_depth=1)
    with pytest.raises(ConfigError, match=r"adc_width = 17 is out of range"):
        accelerator_register_map(AccelParams(), adc_width=17)


def test_at_ignores_low_address_bits_and_reports_holes():
    m = accelerator_register_map(AccelParams())
    ctrl = m["ctrl"].addr
    assert m.at(ctrl) is m.at(ctrl + 3) is m["ctrl"]
    assert m.at(0x028) is None and m.at(0xFFC) is None


def test_encode_decode_round_trip():
    m = accelerator_register_map(AccelParams())
    upd = m["update"]
    w = upd.encode(row=31, col=2, dw=-5, end_cycle=1)
    assert w >> 30 == 1 and upd.decode(w) == {"dw": -5, "col": 2, "row": 31, "end_cycle": 1, "marker": 0}
    with pytest.raises(ConfigError, match=r"update.dw = 2048 is out of range: allowed \[-2048, 2047\]"):
        upd.encode(dw=2048)
    with pytest.raises(KeyError):
        upd.encode(nope=1)
