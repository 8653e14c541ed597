"""Co-simulation with the RTL in the loop: in-situ training and BNN inference through the accelerator top, and the plain Verilator C++ replay."""
