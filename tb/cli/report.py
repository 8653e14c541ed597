"""The end of a build-report command (`board build`, `asic`): the JSON file and the exit code."""
from __future__ import annotations

import json
from pathlib import Path


def finish_report(results: list, json_path: Path | None, failed: list[str]) -> int:
    """Write ``results`` (objects with ``to_dict()``) to ``json_path`` if given, name the failed
    builds; 0 when none failed, else 1."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps([r.to_dict() for r in results], indent=2))
        print(f"wrote {json_path}")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0
