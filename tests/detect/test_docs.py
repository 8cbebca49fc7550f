"""docs/detectors.md and the runbook's detectors section cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from andon.detect import DETECTORS
from andon.runbook.detectors import Detectors

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_detector_has_a_section_naming_its_class() -> None:
    text = (DOCS / "detectors.md").read_text(encoding="utf-8")
    headings = re.findall(r"^### (\w+) → `(\w+)`$", text, flags=re.MULTILINE)
    assert sorted(headings) == sorted((d.name, d.incident_class) for d in DETECTORS)
    assert all(d.name in Detectors.model_fields for d in DETECTORS)


def test_the_runbook_example_is_valid_and_covers_every_section() -> None:
    text = (DOCS / "runbook.md").read_text(encoding="utf-8")
    section = text.split("### detectors", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    document = yaml.safe_load(block.group(1))["detectors"]
    Detectors.model_validate(document)
    assert set(document) == set(Detectors.model_fields)
