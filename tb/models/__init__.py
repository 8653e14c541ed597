"""Behavioural models that close a DUT port in cocotb (the ReRAM array on the line enables)."""
