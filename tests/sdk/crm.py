"""A tiny in-memory CRM for SDK tests: the system an agent changes, with a read, a write and an undo."""

from __future__ import annotations

import threading
from typing import Any

from andon.sdk.client import Andon
from andon.sdk.guard import Change


class Crm:
    def __init__(self) -> None:
        self.tiers: dict[str, str] = {}
        self.writes = 0
        self.lock = threading.Lock()

    def get(self, account_id: str) -> dict[str, Any]:
        return {"account_id": account_id, "tier": self.tiers.get(account_id, "standard")}

    def set(self, account_id: str, tier: str) -> dict[str, Any]:
        with self.lock:
            self.tiers[account_id] = tier
            self.writes += 1
        return self.get(account_id)


def guard_crm(a: Andon, crm: Crm, workflow: str = "support-triage") -> tuple[Any, Any]:
    """Register the CRM's tools with ``a``: (read_ticket, update_tier)."""

    def read_tier(account_id: str) -> dict[str, Any]:
        return crm.get(account_id)

    def restore_tier(change: Change) -> None:
        crm.set(change.args["account_id"], change.before["tier"])

    @a.tool(workflow, "crm.update_tier", undo=restore_tier, state=read_tier)
    def update_tier(account_id: str, tier: str) -> dict[str, Any]:
        return crm.set(account_id, tier)

    @a.tool(workflow, "helpdesk.read_ticket")
    def read_ticket(ticket_id: str) -> dict[str, Any]:
        return {"id": ticket_id, "subject": "Upgrade me"}

    return read_ticket, update_tier
