"""The MVM read engine's cycle table: formulas equal the cycle model (checked inside rows())."""
from tb.bench.mvm_cycles import main, rows


def test_rows_small_layer():
    out = rows(r=9, c=5, n=2, a=4, b=3, k=4, timings=((1, 1), (2, 3)))
    assert len(out) == 8
    fwd = out[0]
    # 3 reads of 1 + 1 + 4 cycles, 3 load words (9 codes, 10 per word: 1), 5 outputs
    assert (fwd["reads"], fwd["read_cycles"], fwd["load"], fwd["n_out"]) == (3, 6, 1, 5)
    assert fwd["period"] == 1 + 3 * 6 + 5 and fwd["latency"] == 3 * 6 + 5 + 1 and fwd["adc_bound"] == 12


def test_main_prints_the_table(capsys):
    main([])
    assert "| non-diff. | forward | 1, 1 | 1000 / 125 | 8 x 10 | 197 | 250 | 331 | 527 | 64 |" in capsys.readouterr().out
