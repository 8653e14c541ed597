"""Behavioural models that close a DUT port in cocotb (the ReRAM array on the line enables, the BNN
2T2R array and analog macro on the BnnLayerEngine's array port)."""
