"""Fixtures for runbook tests: temporary YAML files and a lint-clean example to break on purpose."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from runbook_helpers import EXAMPLES, TODAY

from andon.errors import Problem
from andon.runbook.lint import lint
from andon.runbook.load import load

Write = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """write(text, name="runbook.yaml") -> path of a new file holding ``text``."""

    def _write(text: str | bytes, name: str = "runbook.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write


_AGENT = yaml.safe_load((EXAMPLES / "support-agent.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def agent() -> dict[str, Any]:
    """A fresh copy of the support-agent example's data, which lints clean, to break on purpose."""
    return copy.deepcopy(_AGENT)


@pytest.fixture
def lint_doc(tmp_path: Path) -> Callable[..., list[Problem]]:
    """Dump a runbook document to YAML, load it and return its lint findings."""

    def _lint(document: dict[str, Any], today: date = TODAY) -> list[Problem]:
        path = tmp_path / "runbook.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return lint(load(path), today=today)

    return _lint
