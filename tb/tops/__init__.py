"""Testbench-only RTL: wrappers that put blocks together for a test (never part of the generated design)."""
