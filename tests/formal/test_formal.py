"""Formal proofs of the blocks (SymbiYosys + Yices) and, for every property, a mutant that breaks it."""
import pytest

from golden.spec.params import AccelParams
from tb.formal.catalog import MUTANTS, PROOFS
from tb.formal.crossbar_addressing import CrossbarAddressingProof
from tb.formal.harness import sby_text, to_rtlil
from tb.formal.mutation import Mutation
from tb.formal.run import run_mutant, run_proof


def _marks(spec):
    return [pytest.mark.formal] + ([] if spec.quick else [pytest.mark.formal_full])


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name, marks=_marks(s)) for s in PROOFS])
def test_proof_passes(spec, tmp_path):
    row = run_proof(spec, tmp_path)
    print(f"{spec.name}: {row.status} in {row.seconds:.1f} s ({spec.mode}, depth {spec.depth})")
    assert row.status == "PASS", row.detail


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name, marks=_marks(s)) for s in MUTANTS])
def test_mutant_breaks_its_property(spec, tmp_path):
    row = run_mutant(spec, tmp_path)
    assert row.status == "FAIL", f"{spec.name}: the mutant {row.detail} was not caught ({row.status})"


def test_every_property_has_a_mutant():
    for p in PROOFS:
        caught = {m.prop for m in MUTANTS if m.proof == p.name}
        # a second parameter set of a block shares the first set's mutants
        caught |= {m.prop for m in MUTANTS for q in PROOFS if q.block == p.block and m.proof == q.name}
        assert set(p.properties) <= caught, f"{p.name}: no mutant for {set(p.properties) - caught}"


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name, marks=_marks(s)) for s in PROOFS])
def test_every_property_is_stated_by_its_wrapper(spec):
    text = to_rtlil(spec.make(None))
    for prop in spec.properties:
        assert f"cell $check \\{prop}\n" in text, f"{spec.name}: no assertion named {prop}"


def test_mutation_text_must_occur_exactly_once():
    with pytest.raises(LookupError, match="occurs 0 times"):
        Mutation("hw.crossbar_addressing", "CrossbarAddressing", "no such text", "x").apply()
    with pytest.raises(LookupError, match=r"occurs (?!0 )\d+ times"):
        Mutation("hw.crossbar_addressing", "CrossbarAddressing", "m.d.comb", "x").apply()


def test_mutant_leaves_the_real_block_alone():
    import inspect

    import hw.crossbar_addressing as real
    spec = next(m for m in MUTANTS if m.name == "crossbar_addressing_1t1r__one_word_line")
    mutant = spec.mutation.apply()
    assert mutant is not real.CrossbarAddressing
    assert spec.mutation.old in inspect.getsource(real) and spec.mutation.new not in inspect.getsource(real)
    assert mutant.__module__ == "hw.crossbar_addressing__mutant"


def test_only_keeps_one_assertion_and_every_assumption():
    top = CrossbarAddressingProof(AccelParams().with_(array={"rows": 5, "cols": 3}))
    text = to_rtlil(top, only="one_word_line")
    assert "cell $check \\one_word_line\n" in text
    assert "cell $check \\no_set_and_reset_column\n" not in text
    assert 'FLAVOR "assume"' in text
    with pytest.raises(LookupError, match="no property named"):
        to_rtlil(top, only="nonexistent")


def test_sby_file_names_mode_depth_and_solver():
    text = sby_text("prove", 4, "yices")
    assert "mode prove\ndepth 4\n" in text and "smtbmc yices" in text and "proc -norom" in text
    with pytest.raises(ValueError, match="mode"):
        sby_text("live", 4, "yices")
