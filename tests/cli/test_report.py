"""The shared end of the build-report commands: JSON file and exit code."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from tb.cli.report import finish_report


@dataclass
class Row:
    block: str
    cells: int

    def to_dict(self) -> dict:
        return asdict(self)


def test_writes_json_and_returns_zero_without_failures(tmp_path, capsys):
    path = tmp_path / "out" / "r.json"
    assert finish_report([Row("a", 1), Row("b", 2)], path, []) == 0
    assert json.loads(path.read_text()) == [{"block": "a", "cells": 1}, {"block": "b", "cells": 2}]
    assert f"wrote {path}" in capsys.readouterr().out


def test_names_failed_builds_and_returns_one(capsys):
    assert finish_report([Row("a", 1)], None, ["ulx3s/accelerator"]) == 1
    assert "failed: ulx3s/accelerator" in capsys.readouterr().out
