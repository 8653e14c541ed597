"""Shared pytest fixtures: seeds are printed so a failing randomized test can be replayed."""
import os

import pytest


@pytest.fixture
def seed(request) -> int:
    """Seed for a randomized test: RERAM_SEED from the environment, else a fixed default; printed."""
    value = int(os.environ.get("RERAM_SEED", "20261123"))
    print(f"seed = {value} (replay with RERAM_SEED={value})")
    return value
