"""The handshake rule of golden.spec.handshake: generator sequences and the two sides' draw rules."""
from __future__ import annotations

import itertools
import random

import pytest

from golden.spec.handshake import (
    SinkSide,
    SourceSide,
    always,
    burst_gen,
    make_gen,
    pattern,
    random_gen,
)


def bits(gen, n: int) -> str:
    return "".join("1" if b else "0" for b in itertools.islice(gen, n))


class CountingGen:
    """An idle/backpressure generator that counts its draws."""

    def __init__(self, gen):
        self.gen, self.draws = gen, 0

    def __iter__(self):
        return self

    def __next__(self) -> bool:
        self.draws += 1
        return next(self.gen)


# --- generators --------------------------------------------------------------------------------------
def test_seeded_generators_keep_their_stimulus():
    """Pinned prefixes: every seeded test keeps the stimulus it had when its expectations were made."""
    assert bits(random_gen(20261123, 0.5, 1), 32) == "01101011000011010101011111101011"
    assert bits(random_gen(7, 0.3), 32) == "00101000000110000000000001000000"
    assert bits(burst_gen(20261123, 0.5, 8, 2), 48) == "111111111111111111110000000010000000010000000000"
    assert bits(make_gen(["burst", 0.6], 3, 4), 48) == "111111111111111111111111100000000000000001111111"
    assert bits(make_gen(0.7, 3, 5), 32) == "01111001111111011101111111011111"


def test_generators_are_deterministic_per_seed_and_stream(seed):
    for make in (lambda s, k: random_gen(s, 0.4, k), lambda s, k: burst_gen(s, 0.4, 5, k)):
        assert bits(make(seed, 1), 500) == bits(make(seed, 1), 500)
        assert bits(make(seed, 1), 500) != bits(make(seed, 2), 500)
        assert bits(make(seed, 1), 500) != bits(make(seed + 1, 1), 500)


def test_burst_gen_keeps_the_rate_in_longer_runs(seed):
    assert set(bits(burst_gen(seed, 0.0, 3), 200)) == {"0"}
    assert set(bits(burst_gen(seed, 1.0, 3), 200)) == {"1"}
    burst, bernoulli = bits(burst_gen(seed, 0.5, 16), 20_000), bits(random_gen(seed, 0.5), 20_000)
    assert 0.4 < burst.count("1") / len(burst) < 0.6

    def runs(s):
        return len(list(itertools.groupby(s)))
    assert runs(burst) * 4 < runs(bernoulli)


def test_make_gen_specs(seed):
    assert bits(make_gen(None, seed, 0), 50) == bits(make_gen(1.0, seed, 0), 50) == "1" * 50
    assert bits(make_gen(0.3, seed, 4), 300) == bits(random_gen(seed, 0.3, 4), 300)
    assert bits(make_gen(["burst", 0.3], seed, 4), 300) == bits(burst_gen(seed, 0.3, 16, 4), 300)
    assert bits(make_gen(["pattern", [1, 1, 0]], seed, 4), 9) == "110110110" == bits(pattern([1, 1, 0]), 9)
    with pytest.raises(ValueError, match="unknown generator spec"):
        make_gen(["sine", 3], seed, 0)


# --- the two sides -----------------------------------------------------------------------------------
def random_taker(seed: int):
    rng = random.Random(f"{seed}/taker")
    return lambda: rng.random() < 0.5


def test_source_draws_only_while_holding_an_unpresented_item(seed):
    gen = CountingGen(random_gen(seed, 0.5, 1))
    src = SourceSide(range(40), gen)
    take = random_taker(seed)
    for _ in range(400):
        before, waiting = gen.draws, src.current is None and not src.idle
        src.present()
        assert gen.draws - before == int(waiting)
        if src.current is not None and take():
            src.taken()
    assert src.idle


def test_source_never_withdraws_a_presented_item(seed):
    src = SourceSide(range(30), random_gen(seed, 0.6, 1))
    take = random_taker(seed)
    shown, order = None, []
    while not src.idle:
        item = src.present()
        if shown is not None:
            assert item == shown          # held, unchanged, until taken
        shown = item
        if item is not None and take():
            order.append(src.taken())
            shown = None
    assert order == list(range(30))       # in order, each once


def test_draws_to_present_equals_per_cycle_present(seed):
    a, b = SourceSide(range(50), random_gen(seed, 0.3, 1)), SourceSide(range(50), random_gen(seed, 0.3, 1))
    while not a.idle:
        idle = 0
        while a.present() is None:
            idle += 1
        assert b.draws_to_present() == idle and b.current == a.current
        assert a.taken() == b.taken()
    with pytest.raises(RuntimeError):
        b.draws_to_present()


def test_sink_draws_every_cycle_and_catches_up_slept_cycles(seed):
    gen = CountingGen(random_gen(seed, 0.5, 2))
    snk = SinkSide(gen)
    every = [snk.draw() for _ in range(300)]
    assert gen.draws == 300 and snk.ready == every[-1]
    lazy = SinkSide(random_gen(seed, 0.5, 2))
    rng = random.Random(seed)
    cycle = 5                              # the first call fixes the origin
    origin = cycle
    while cycle < 300 + origin:
        assert lazy.draw_at(cycle) == every[cycle - origin]
        cycle += rng.randint(1, 7)          # wake-ups with slept cycles between them


def test_defaults_never_stall():
    src, snk = SourceSide([1, 2]), SinkSide()
    assert src.present() == 1 and snk.draw() and bits(always(), 5) == "11111"
