"""The parameter tree rejects every out-of-range value with a message naming the field and range."""
import pytest

from golden.spec.params import AccelParams, ConfigError, load_config, params_from_dict


def test_defaults_are_valid():
    p = AccelParams()
    assert p.phys_cols == p.array.cols * p.synapse.devices
    assert (1 << p.row_width) >= p.array.rows and (1 << p.slot_width) >= p.synapse.slots


@pytest.mark.parametrize("section, field, value, match", [
    ("synapse", "devices", 0, r"synapse\.devices = 0 is out of range: allowed \[1, 64\]"),
    ("synapse", "devices", 65, r"synapse\.devices"),
    ("array", "rows", 0, r"array\.rows = 0 is out of range: allowed \[1, 4096\]"),
    ("array", "cell", "3T1R", r"array\.cell = '3T1R' is not allowed"),
    ("timing", "width", 0, r"timing\.width = 0 is out of range: allowed \[1, 255\]"),
    ("timing", "setup", 256, r"timing\.setup"),
    ("update", "chi_width", 8, r"update\.chi_width = 8 is out of range: allowed \[12, 40\]"),
    ("update", "eps", 1 << 15, r"update\.eps"),
    ("update", "count_width", 9, r"update\.count_width"),
    ("synapse", "pot_period", 0, r"synapse\.pot_period"),
])
def test_out_of_range_names_field_and_range(section, field, value, match):
    with pytest.raises(ConfigError, match=match):
        params_from_dict({section: {field: value}})


@pytest.mark.parametrize("devices, increment, ok", [
    (4, 1, True), (4, 3, True), (4, 2, False), (6, 4, False), (6, 5, True), (8, 3, True), (1, 1, True),
    (3, 3, False),
])
def test_increment_must_be_coprime(devices, increment, ok):
    cfg = {"synapse": {"devices": devices, "increment": increment}}
    if ok:
        assert params_from_dict(cfg).synapse.increment == increment
    else:
        with pytest.raises(ConfigError, match=r"synapse\.increment"):
            params_from_dict(cfg)


def test_non_integer_and_unknown_keys_rejected():
    with pytest.raises(ConfigError, match=r"array\.rows must be an integer"):
        params_from_dict({"array": {"rows": 3.5}})
    with pytest.raises(ConfigError, match=r"unknown key synapse\.device"):
        params_from_dict({"synapse": {"device": 4}})
    with pytest.raises(ConfigError, match=r"unknown config section \[arrays\]"):
        params_from_dict({"arrays": {}})
    with pytest.raises(ConfigError, match=r"synapse\.differential must be true or false"):
        params_from_dict({"synapse": {"differential": 1}})


def test_load_config_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[array]\nrows = 8\ncols = 3\n[synapse]\ndevices = 3\nincrement = 2\ndifferential = true\n")
    p = load_config(f)
    assert (p.array.rows, p.array.cols, p.synapse.slots, p.phys_cols) == (8, 3, 6, 18)
    bad = tmp_path / "bad.toml"
    bad.write_text("[array\nrows=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_with_copies_and_validates():
    p = AccelParams().with_(synapse={"devices": 8, "increment": 3})
    assert p.synapse.devices == 8 and AccelParams().synapse.devices == 4
    with pytest.raises(ConfigError):
        AccelParams().with_(synapse={"devices": 8, "increment": 4})


def test_optional_bnn_section(tmp_path):
    assert AccelParams().bnn is None and "bnn" not in AccelParams().to_dict()
    f = tmp_path / "b.toml"
    f.write_text("[array]\nrows = 16\ncols = 160\ncell = \"2T2R\"\n[bnn]\ninputs = 23\nbias_cells = 2\nneurons = 9\nbank = 3\n")
    p = load_config(f)
    assert p.bnn.cells == 25 and p.to_dict()["bnn"]["neurons"] == 9
    assert params_from_dict(p.to_dict()) == p
    with pytest.raises(ConfigError, match=r"bnn\.bank"):
        params_from_dict({"bnn": {"neurons": 3, "bank": 4}})


def test_field_table_checks_in_order_with_the_usual_messages():
    from dataclasses import dataclass

    from golden.spec.checks import LoOpen, check_floats, check_ints

    @dataclass(frozen=True)
    class Part:
        n: int = 3
        m: int = 0
        x: float = 0.0

    check_ints(Part(), "part", n=(1, 4), m=(0, None))
    with pytest.raises(ConfigError, match=r"^part\.m = -1 is out of range: allowed >= 0$"):
        check_ints(Part(m=-1), "part", n=(1, 4), m=(0, None))
    with pytest.raises(ConfigError, match=r"^part\.n = 9 is out of range"):  # the first failing field
        check_ints(Part(n=9, m=-1), "part", n=(1, 4), m=(0, None))
    check_floats(Part(), "part", x=(0.0, 1.0))
    with pytest.raises(ConfigError, match=r"^part\.x = 0.0 is out of range: allowed \(0.0, 1.0\]$"):
        check_floats(Part(), "part", x=LoOpen(0.0, 1.0))
    with pytest.raises(ConfigError, match=r"^part\.n must be an integer, got 'a'$"):
        check_ints(Part(n="a"), "part", n=(1, 4))


def test_dataclass_from_dict_rejects_non_tables_and_unknown_keys():
    from golden.physics.device import DeviceParams, device_params_from_dict
    from golden.spec.checks import dataclass_from_dict

    assert dataclass_from_dict(DeviceParams, {"g_min": 1.0}, "device") == DeviceParams(g_min=1.0)
    assert device_params_from_dict({}) == DeviceParams()
    with pytest.raises(ConfigError, match=r"^unknown key device\.gmin: allowed \['a_reset', "):
        device_params_from_dict({"gmin": 1.0})
    with pytest.raises(ConfigError, match=r"^config section \[device\] must be a table, got 3$"):
        dataclass_from_dict(DeviceParams, 3, "device")
