"""The stream drivers (Amaranth simulator and cocotb, polling and lazy) apply the handshake rule of
golden.spec.handshake exactly as a cycle model does: one stream register, every transfer predicted."""
from __future__ import annotations

import pytest

from golden.spec.handshake import make_gen
from tb.kit.amaranth_sim import run_pipe
from tb.tops.stream_register import StreamRegister, stream_register_cycles

SPECS = {   # (valid, ready) generator specs
    "free": (1.0, 1.0),
    "random": (0.6, 0.5),
    "bursty": (["burst", 0.5], ["burst", 0.4]),
    "pattern": (["pattern", [1, 0, 1, 1]], ["pattern", [0, 1, 1]]),
}
ITEMS = list(range(200))


def predicted(spec, seed):
    valid, ready = spec
    return stream_register_cycles(ITEMS, make_gen(valid, seed, 1), make_gen(ready, seed, 2))


def test_model_passes_every_item_in_order(seed):
    accepted, emitted = predicted(SPECS["random"], seed)
    assert [v for _, v in accepted] == [v for _, v in emitted] == ITEMS
    assert all(e > a for (a, _), (e, _) in zip(accepted, emitted))
    assert predicted(SPECS["free"], seed)[1] == [(c + 1, c) for c in ITEMS]   # full throughput


@pytest.mark.parametrize("name", SPECS)
def test_amaranth_sim_drivers_match_the_model(name, seed):
    valid, ready = SPECS[name]
    accepted, emitted = predicted(SPECS[name], seed)
    sent, received = run_pipe(StreamRegister(8), ITEMS, make_gen(valid, seed, 1), make_gen(ready, seed, 2))
    assert sent == accepted
    assert received == emitted


@pytest.mark.cocotb
@pytest.mark.parametrize("lazy", [False, True], ids=["polling", "lazy"])
@pytest.mark.parametrize("name", ["random", "bursty"])
def test_cocotb_drivers_match_the_model(name, lazy, seed):
    from tb.kit.runner import run_cocotb

    valid, ready = SPECS[name]
    cfg = {"seed": seed, "items": len(ITEMS), "lazy": lazy, "valid": valid, "ready": ready}
    run_cocotb(StreamRegister(8), toplevel="stream_register", test_module="tb.envs.stream_register_tb",
               config=cfg)
