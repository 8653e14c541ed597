"""Per-block cocotb environments (one module per hw block, `<block>_tb`): a ``TB`` class on
:class:`tb.kit.testbench.Testbench` with the block's drivers, monitors, golden model and scoreboard."""
