"""Applied runbooks become immutable, numbered revisions, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from runbook_helpers import EXAMPLES
from sqlalchemy.engine import Engine

from andon.runbook.load import load
from andon.runbook.revisions import apply_runbook, get_revision, latest_revision, list_revisions
from andon.store.tables import runbook_revisions


def test_apply_numbers_revisions_and_skips_unchanged(engine: Engine) -> None:
    agent = load(EXAMPLES / "support-agent.yaml")
    triage = load(EXAMPLES / "support-triage.yaml")
    with engine.begin() as conn:
        assert latest_revision(conn) is None
        first, created = apply_runbook(conn, agent.runbook, source=agent.source, actor="dana")
        assert (first.revision, created) == (1, True)
    with engine.begin() as conn:
        again, created = apply_runbook(conn, agent.runbook, source=agent.source, actor="omar")
        assert (again.revision, again.actor, created) == (1, "dana", False)
        second, created = apply_runbook(
            conn,
            triage.runbook,
            source=triage.source,
            actor="omar",
            now=datetime(2026, 11, 22, 9, tzinfo=UTC),
        )
        assert (second.revision, created) == (2, True)
    with engine.connect() as conn:
        assert [r.revision for r in list_revisions(conn)] == [1, 2]
        stored = get_revision(conn, 1)
        assert stored.runbook == agent.runbook
        assert stored.source == agent.source
        assert stored.created_at.tzinfo is not None
        latest = latest_revision(conn)
        assert latest is not None and latest.runbook.workflow("support-triage").autonomy == "autonomous"
        assert latest.created_at == datetime(2026, 11, 22, 9, tzinfo=UTC)
        with pytest.raises(KeyError, match="no runbook revision 7"):
            get_revision(conn, 7)
        assert conn.execute(sa.select(sa.func.count()).select_from(runbook_revisions)).scalar() == 2


def test_reapplying_an_older_runbook_adds_a_new_revision(engine: Engine) -> None:
    agent = load(EXAMPLES / "support-agent.yaml")
    triage = load(EXAMPLES / "support-triage.yaml")
    with engine.begin() as conn:
        for loaded in (agent, triage, agent):
            apply_runbook(conn, loaded.runbook, source=loaded.source, actor="ci")
        revisions = list_revisions(conn)
    assert [r.revision for r in revisions] == [1, 2, 3]
    assert revisions[0].digest == revisions[2].digest != revisions[1].digest
