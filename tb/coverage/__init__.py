"""Coverage closure: the Verilator ``coverage.dat`` reader, the waiver table and the merged report
(``docs/coverage.md``, written by ``make coverage``); the cover groups themselves are in
:mod:`tb.kit.coverage` and the environments."""
