"""Fixtures for ledger tests: a signing key in a temporary data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from andon.ledger.keys import Signer, signing_key


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def signer(key_dir: Path) -> Signer:
    return signing_key(key_dir)
