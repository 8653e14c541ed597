"""The reusable verification kit: stream drivers and monitors, the cycle counter, the scoreboard, the testbench base, the host-side AXI4-Lite path, the Verilator runner and lint."""
