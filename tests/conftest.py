"""Shared pytest fixtures: seeds are printed so a failing randomized test can be replayed."""
import os

import pytest


@pytest.fixture
def seed(request) -> int:
    """Seed for a randomized test: RERAM_SEED from the environment, else a fixed default; printed."""
    value = int(os.environ.get("RERAM_SEED", "20261123"))
    print(f"seed = {value} (replay with RERAM_SEED={value})")
    return value


def pytest_generate_tests(metafunc):
    """A test with a ``simulator`` argument runs twice: on the default simulator (``None``: the
    runner's ``RERAM_SIM``, else Verilator) and on Icarus (marked ``icarus``). ``make test-icarus``
    runs the default ones under Icarus too, and deselects the marked duplicates."""
    if "simulator" in metafunc.fixturenames:
        metafunc.parametrize("simulator", [None, pytest.param("icarus", marks=pytest.mark.icarus)],
                             ids=["default-sim", "icarus"])


def pytest_collection_modifyitems(config, items):
    """Simulation runs first (a stable sort: the order within each group is kept). pytest-xdist hands
    tests out in collection order, so a minutes-long co-simulation collected last would run alone on
    one worker at the end of ``make test``; started first, the short tests fill the other worker."""
    items.sort(key=lambda item: item.get_closest_marker("cocotb") is None)
