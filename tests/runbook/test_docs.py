"""The findings documentation cannot drift from the code: every code has a section."""

from __future__ import annotations

import re

from runbook_helpers import EXAMPLES

from andon.runbook.lint import CODES
from andon.runbook.yamlnodes import (
    DUPLICATE,
    INVALID,
    MISSING,
    SYNTAX,
    UNKNOWN_KEY,
    UNKNOWN_REFERENCE,
    UNREADABLE,
)

DOC = (EXAMPLES.parent / "docs" / "lint-findings.md").read_text(encoding="utf-8")


def test_every_code_is_documented_once_with_its_level() -> None:
    headings = re.findall(r"^### (AND\d{3}) — .*$", DOC, flags=re.MULTILINE)
    load_codes = [UNREADABLE, SYNTAX, DUPLICATE, UNKNOWN_KEY, MISSING, INVALID, UNKNOWN_REFERENCE]
    assert headings == load_codes + sorted(CODES)
    for code, (level, _) in CODES.items():
        heading = re.search(rf"^### {code} — .*$", DOC, flags=re.MULTILINE)
        assert heading is not None and heading.group(0).endswith(f"({level})"), code
