"""The demo world: the mock helpdesk/CRM, the example runbook applied, and three live agents.

``DemoWorld`` owns everything ``andon demo`` runs beside the server: it applies the bundled runbook
(``andon/demo/runbook/``), publishes and approves the first prompt versions, starts the simulated
agents against the same store as the server, and offers the seed scenarios as one-call triggers.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from andon.demo.agents import (
    BAD_TRIAGE_PROMPT,
    GOOD_TRIAGE_PROMPT,
    SimulatedAgent,
    quote_agent,
    refund_agent,
    triage_agent,
)
from andon.demo.systems import MockDesk
from andon.errors import AndonError
from andon.runbook.load import load_runbook
from andon.runbook.revisions import apply_runbook
from andon.sdk.client import Andon
from andon.sdk.undo import RollbackReport

RUNBOOK_DIR = Path(__file__).parent / "runbook"
SCENARIOS = {
    "bad-prompt": "Publish triage prompt v13, which routes billing complaints as product bugs",
    "injection": "A customer attachment carries an injected instruction for the refund agent",
}


@dataclass
class DemoWorld:
    """Mock systems plus agents guarded by an in-process Andon client on ``store_url``."""

    store_url: str
    seed: int = 7
    desk: MockDesk = field(init=False)
    client: Andon = field(init=False)
    agents: list[SimulatedAgent] = field(default_factory=list, init=False)
    injections: list[str] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        self.desk = MockDesk.seeded(seed=self.seed)

    # -- set-up ------------------------------------------------------------------------------------
    def prepare(self, engine: Engine) -> int:
        """Apply the bundled runbook and publish the approved prompts; returns the runbook revision."""
        runbook = load_runbook(RUNBOOK_DIR)
        with engine.begin() as conn:
            revision, _ = apply_runbook(conn, runbook, source="andon demo (bundled runbook)", actor="demo")
        self.client = Andon.local(self.store_url, actor="demo-agents", refresh_interval=0.1)
        service = self.client.service
        if not service.list_versions(workflow="support-triage", kind="prompt", name="triage-system"):
            v12 = service.publish_version(
                workflow="support-triage",
                kind="prompt",
                name="triage-system",
                content=GOOD_TRIAGE_PROMPT,
                actor="agent-eng",
                version="v12",
            )
            service.approve_version(v12.id, actor="support-lead", live=True)
        return revision.revision

    def start(self) -> None:
        """Start the three agents; each runs until ``stop``."""
        rng = random.Random(self.seed)
        self.agents = [
            triage_agent(self.client, self.desk, random.Random(rng.random())),
            quote_agent(self.client, self.desk, random.Random(rng.random())),
            refund_agent(self.client, self.desk, random.Random(rng.random()), self.injections),
        ]
        for agent in self.agents:
            agent.start(self._stop)

    def stop(self) -> None:
        self._stop.set()
        for agent in self.agents:
            agent.join(5.0)
        self.client.close()

    # -- scenarios and recovery --------------------------------------------------------------------
    def trigger(self, scenario: str, *, actor: str) -> str:
        """Set off one seed scenario; returns what happened in a sentence."""
        if scenario == "bad-prompt":
            existing = self.client.service.list_versions(
                workflow="support-triage", kind="prompt", name="triage-system"
            )
            if any(v.version == "v13" for v in existing):
                bad = next(v for v in existing if v.version == "v13")
                raise AndonError(
                    f"{bad.ref} was already published; restore the last approved version instead"
                )
            self.client.service.publish_version(
                workflow="support-triage",
                kind="prompt",
                name="triage-system",
                content=BAD_TRIAGE_PROMPT,
                actor=actor,
                version="v13",
                live=True,
            )
            return "prompt:triage-system@v13 is live (not approved): billing complaints now route as bugs"
        if scenario == "injection":
            self.injections.append("injected")
            return "the next billing ticket carries an attachment with an injected instruction"
        raise AndonError(f"unknown scenario {scenario!r}; choose one of {', '.join(sorted(SCENARIOS))}")

    def rollback(
        self, *, workflow: str, actor: str, since: datetime | None = None, dry_run: bool = False
    ) -> RollbackReport:
        """Undo the workflow's executed actions with the undos the demo agents registered."""
        return self.client.rollback(
            workflow=workflow, since=since, actor=actor, reason="demo rollback", dry_run=dry_run
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "systems": self.desk.snapshot(),
            "agents": {
                agent.name: {**agent.stats.as_dict(), "waiting": len(agent.pending)} for agent in self.agents
            },
            "scenarios": SCENARIOS,
        }
