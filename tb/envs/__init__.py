"""Per-block cocotb environments (one module per hw block, `<block>_tb`): driver, monitor, golden model, scoreboard."""
