"""docs/clocks.md carries the regime table generated from the code, so the two cannot drift."""

from __future__ import annotations

from pathlib import Path

from andon.incidents.regimes import markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_regime_table_in_the_docs_is_the_one_the_code_generates() -> None:
    assert markdown_table() in (DOCS / "clocks.md").read_text(encoding="utf-8"), (
        "docs/clocks.md is out of date: paste andon.incidents.regimes.markdown_table() into it"
    )
