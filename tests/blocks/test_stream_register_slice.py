"""StreamRegisterSlice against its golden twin: seeded random idle/backpressure, every transfer on
both sides compared with its cycle; full throughput; registered ready and valid; bad parameters."""
from __future__ import annotations

import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from golden.spec.handshake import make_gen
from golden.spec.params import ConfigError
from golden.twins.stream_register_slice import stream_register_slice_cycles
from hw.stream_register_slice import StreamRegisterSlice
from tb.kit.amaranth_sim import run_pipe

SPECS = {   # (valid, ready) generator specs
    "free": (1.0, 1.0),
    "random": (0.6, 0.5),
    "slow_sink": (0.9, 0.2),
    "bursty": (["burst", 0.5], ["burst", 0.4]),
    "pattern": (["pattern", [1, 1, 0, 1]], ["pattern", [0, 1, 1, 0, 0]]),
}
ITEMS = list(range(1, 201))


def test_twin_passes_every_item_in_order_at_full_rate(seed):
    accepted, emitted = stream_register_slice_cycles(ITEMS, make_gen(0.6, seed, 1), make_gen(0.5, seed, 2))
    assert [v for _, v in accepted] == [v for _, v in emitted] == ITEMS
    assert all(e > a for (a, _), (e, _) in zip(accepted, emitted))
    free = stream_register_slice_cycles(ITEMS)
    assert free == ([(c, v) for c, v in enumerate(ITEMS)], [(c + 1, v) for c, v in enumerate(ITEMS)])


@pytest.mark.parametrize("name", SPECS)
def test_amaranth_sim_matches_the_twin(name, seed):
    valid, ready = SPECS[name]
    accepted, emitted = stream_register_slice_cycles(ITEMS, make_gen(valid, seed, 1), make_gen(ready, seed, 2))
    got_in, got_out = run_pipe(StreamRegisterSlice(8), ITEMS, make_gen(valid, seed, 1), make_gen(ready, seed, 2))
    for want, got, side in ((accepted, got_in, "i"), (emitted, got_out, "o")):
        bad = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b), None)
        assert got == want, (f"seed {seed}, spec {name}: first mismatch on {side} at transfer {bad}: "
                             f"{got[bad] if bad is not None else got[len(want):]} vs "
                             f"{want[bad] if bad is not None else want[len(got):]}")


def test_valid_is_never_withdrawn_and_ready_is_registered(seed):
    """``o.valid`` stays high with the same payload until ``o.ready``; ``i.ready`` does not follow
    ``o.ready`` in the same cycle (it is a flip-flop)."""
    dut = StreamRegisterSlice(data.StructLayout({"a": 4, "b": 3}))
    rv, rr = make_gen(0.7, seed, 3), make_gen(0.3, seed, 4)

    async def bench(ctx):
        pending = None
        for c in range(400):
            ctx.set(dut.i.valid, next(rv))
            ctx.set(dut.i.payload, {"a": c % 16, "b": c % 8})
            ctx.set(dut.o.ready, 0)
            ir0 = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, next(rr))
            assert ctx.get(dut.i.ready) == ir0, f"seed {seed}, cycle {c}: i.ready follows o.ready"
            v, p, r = ctx.get(dut.o.valid), ctx.get(dut.o.payload.as_value()), ctx.get(dut.o.ready)
            if pending is not None:
                assert v and p == pending, f"seed {seed}, cycle {c}: o.valid withdrawn or payload changed"
            pending = p if v and not r else None
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("bad", [0, 5000, True])
def test_rejects_bad_payload_width(bad):
    with pytest.raises(ConfigError, match="payload width"):
        StreamRegisterSlice(bad)
