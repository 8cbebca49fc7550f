"""The proposed change of a held action as a before/after table, for the approval page."""

from __future__ import annotations

import difflib
import json
from typing import Any


def _text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def change_rows(before: Any, after: Any) -> list[dict[str, Any]]:
    """Rows ``{field, before, after, changed}``: one per key when both sides are objects (the record as
    the tool's state reader saw it, and the arguments the call would write), else one per line of a
    line diff of their JSON."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        missing = object()
        rows = []
        for key in keys:
            old, new = before.get(key, missing), after.get(key, missing)
            rows.append(
                {
                    "field": key,
                    "before": "—" if old is missing else _text(old),
                    "after": "—" if new is missing else _text(new),
                    "changed": old != new,
                }
            )
        return rows
    old_lines = _text(before).splitlines() if before is not None else []
    new_lines = _text(after).splitlines() if after is not None else []
    rows = []
    for line in difflib.ndiff(old_lines, new_lines):
        tag, text = line[:2], line[2:]
        if tag == "? ":
            continue
        rows.append(
            {
                "field": "",
                "before": text if tag in ("  ", "- ") else "",
                "after": text if tag in ("  ", "+ ") else "",
                "changed": tag != "  ",
            }
        )
    return rows
