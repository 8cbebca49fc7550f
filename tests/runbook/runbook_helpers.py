"""Shared helpers of the runbook tests (a module of its own so test files can import it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from andon.errors import Problem, RunbookError
from andon.runbook.load import load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TODAY = date(2026, 11, 22)  # drill dates in the examples are judged as of this day


def load_problems(path: Path) -> list[Problem]:
    """The problems that stop ``path`` from loading (fails the test if it loads)."""
    with pytest.raises(RunbookError) as caught:
        load(path)
    return caught.value.problems


def codes(findings: list[Problem]) -> list[str]:
    return sorted({f.code for f in findings})
