"""Bit-true golden twins of the hardware blocks: one module per hw block, with the same name, returning the transactions (with cycle stamps) the RTL must produce."""
