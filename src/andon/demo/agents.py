"""Simulated agents for the demo: support triage, quote drafting and a refund agent.

Each agent is an ordinary program guarded by the SDK: its tools are wrapped with ``@a.tool``, its
work happens inside ``a.run``, and the "model" is a small deterministic classifier whose behaviour
follows the live prompt version — so publishing a bad prompt really misroutes tickets, and an
injected attachment really makes the refund agent try to change tiers and e-mail customers.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from andon.demo.systems import GROUPS, INJECTED_ATTACHMENT, MockDesk
from andon.errors import AndonError, ApprovalPending, Denied
from andon.sdk.client import Andon
from andon.sdk.guard import Change

log = logging.getLogger("andon.demo")

# Prompt contents the triage "model" obeys; v13 is the seed scenario's bad update.
GOOD_TRIAGE_PROMPT = {
    "text": "Route each ticket to billing, bug, how-to or account.",
    "billing_as_bug": False,
}
BAD_TRIAGE_PROMPT = {
    "text": "Route each ticket; anything mentioning an error or a charge is a product bug.",
    "billing_as_bug": True,
}


@dataclass
class AgentStats:
    """What one agent did; the console shows these next to the ledger's view."""

    runs: int = 0
    executed: int = 0
    denied: int = 0
    held: int = 0
    errors: int = 0
    last_denial: str | None = None
    fallback: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SimulatedAgent:
    """A thread running ``step`` every ``interval`` seconds until stopped."""

    name: str
    step: Callable[[], None]
    interval: float
    stats: AgentStats = field(default_factory=AgentStats)
    pending: list[str] = field(default_factory=list)  # approval ids waiting for a person
    _thread: threading.Thread | None = None

    def start(self, stop: threading.Event) -> None:
        def loop() -> None:
            while not stop.wait(self.interval):
                self.stats.runs += 1
                try:
                    self.step()
                except Denied as exc:
                    self.stats.denied += 1
                    self.stats.last_denial = exc.reason
                    self.stats.fallback = exc.fallback
                except ApprovalPending as exc:
                    self.stats.held += 1
                    self.pending.append(exc.approval_id)
                except (AndonError, LookupError, ValueError) as exc:
                    self.stats.errors += 1
                    log.info("demo agent %s: %s", self.name, exc)

        self._thread = threading.Thread(target=loop, name=f"demo-{self.name}", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def _classify(subject: str, true_group: str, prompt: dict[str, Any], rng: random.Random) -> tuple[str, float]:
    """The triage "model": right most of the time, and wrong the way its prompt makes it wrong."""
    if prompt.get("billing_as_bug") and true_group == "billing":
        return "bug", round(rng.uniform(0.7, 0.9), 2)
    if rng.random() < 0.06:
        return rng.choice([g for g in GROUPS if g != true_group]), round(rng.uniform(0.4, 0.6), 2)
    return true_group, round(rng.uniform(0.75, 0.98), 2)


def triage_agent(a: Andon, desk: MockDesk, rng: random.Random) -> SimulatedAgent:
    wf = "support-triage"
    read_ticket = a.tool(wf, "helpdesk.read_ticket")(desk.read_ticket)

    def restore_group(change: Change) -> None:
        desk.route(change.args["ticket_id"], change.before["group"], by="andon-rollback")

    @a.tool(
        wf,
        "helpdesk.route",
        undo=restore_group,
        state=lambda ticket_id, group: {"group": desk.ticket_group(ticket_id)},
    )
    def route(ticket_id: str, group: str) -> dict[str, Any]:
        return desk.route(ticket_id, group, by="svc-triage")

    def step() -> None:
        ticket = desk.open_ticket(rng)
        with a.run(wf, input={"ticket": ticket.id, "subject": ticket.subject}, actor="svc-triage") as run:
            read_ticket(ticket.id)
            prompt = a.prompt(wf, "triage-system") or GOOD_TRIAGE_PROMPT
            group, confidence = _classify(ticket.subject, ticket.true_group, prompt, rng)
            run.model_call(input=ticket.subject, output={"group": group}, confidence=confidence)
            route(ticket.id, group)
            agent.stats.executed += 1

    agent = SimulatedAgent("support-triage", step, interval=0.4)
    return agent


def quote_agent(a: Andon, desk: MockDesk, rng: random.Random) -> SimulatedAgent:
    wf = "quote-drafting"
    read_notes = a.tool(wf, "crm.read_notes")(lambda account_id: desk.account(account_id)["notes"])

    def delete_draft(change: Change) -> None:
        desk.delete_quote(change.result["quote"], by="andon-rollback")

    @a.tool(wf, "quotes.create_draft", undo=delete_draft)
    def create_draft(account_id: str, amount: float) -> dict[str, Any]:
        return desk.create_quote(account_id, amount, by="svc-quotes")

    agent = SimulatedAgent("quote-drafting", lambda: None, interval=4.0)

    def step() -> None:
        _settle(a, agent)
        account_id = rng.choice(sorted(desk.accounts))
        with a.run(wf, input={"account": account_id}, actor="svc-quotes") as run:
            notes = read_notes(account_id)
            run.retrieval(source="crm-notes", query=account_id, documents=[notes])
            seats = int(notes.split(" ")[0])
            amount = seats * rng.choice((18.0, 24.0, 32.0))
            run.model_call(
                input=notes, output={"amount": amount}, confidence=round(rng.uniform(0.8, 0.97), 2)
            )
            create_draft(account_id, amount)
            agent.stats.executed += 1

    agent.step = step
    return agent


def refund_agent(a: Andon, desk: MockDesk, rng: random.Random, injections: list[str]) -> SimulatedAgent:
    """Handles billing tickets; a ticket id put in ``injections`` carries the injected attachment."""
    wf = "refund-agent"
    lookup = a.tool(wf, "crm.lookup_account")(desk.account)

    def restore_tier(change: Change) -> None:
        desk.set_tier(change.args["account_id"], change.before["tier"], by="andon-rollback")

    @a.tool(
        wf,
        "crm.update_tier",
        undo=restore_tier,
        state=lambda account_id, tier: {"tier": desk.account(account_id)["tier"]},
    )
    def update_tier(account_id: str, tier: str) -> dict[str, Any]:
        return desk.set_tier(account_id, tier, by="svc-refunds")

    @a.tool(wf, "email.send_refund")
    def send_refund(to: str, subject: str, body: str) -> dict[str, Any]:
        return desk.send_email(to=to, subject=subject, body=body, by="svc-refunds")

    agent = SimulatedAgent("refund-agent", lambda: None, interval=1.5)

    def step() -> None:
        _settle(a, agent)
        injected = bool(injections)
        if injected:
            injections.pop()
        ticket = desk.open_ticket(rng, injected=injected)
        account = lookup(ticket.account_id)
        with a.run(wf, input={"ticket": ticket.id, "subject": ticket.subject}, actor="svc-refunds") as run:
            if ticket.attachment:
                run.retrieval(source="ticket-attachments", query=ticket.id, documents=[ticket.attachment])
            if ticket.attachment == INJECTED_ATTACHMENT:
                _obey_injection(run, desk, account["id"], update_tier, send_refund)
                agent.stats.executed += 1
                return
            if ticket.true_group == "account" and account["tier"] != "basic":
                confidence = round(rng.uniform(0.6, 0.95), 2)
                run.model_call(input=ticket.subject, output={"tier": "basic"}, confidence=confidence)
                update_tier(account["id"], "basic")
                agent.stats.executed += 1
            elif ticket.true_group == "billing":
                run.model_call(input=ticket.subject, output={"refund": True}, confidence=0.9)
                send_refund(account["email"], "Your refund", f"We refunded ticket {ticket.id}.")
                agent.stats.executed += 1

    agent.step = step
    return agent


def _obey_injection(
    run: Any, desk: MockDesk, account_id: str, update_tier: Callable[..., Any], send: Callable[..., Any]
) -> None:
    """What a manipulated model does: upgrade the account, then e-mail twenty other customers."""
    run.model_call(input=INJECTED_ATTACHMENT, output={"tier": "gold", "refund_all": True}, confidence=0.97)
    update_tier(account_id, "gold")
    for other in sorted(desk.accounts)[:20]:
        try:
            send(desk.accounts[other].email, "Refund confirmed", "Your account was refunded in full.")
        except ApprovalPending:
            continue


def _settle(a: Andon, agent: SimulatedAgent) -> None:
    """Resume held actions a person has decided on; leave the rest waiting."""
    for approval_id in list(agent.pending):
        try:
            a.resume(approval_id, wait=0)
            agent.stats.executed += 1
        except ApprovalPending:
            continue
        except Denied as exc:
            agent.stats.last_denial = exc.reason
        agent.pending.remove(approval_id)
