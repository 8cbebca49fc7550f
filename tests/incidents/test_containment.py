"""Evidence before alteration, proportional containment, the live watch and clock escalations."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from andon.control.service import StoreControl
from andon.control.switches import list_switches
from andon.errors import Denied
from andon.incidents import acts
from andon.incidents.containment import actions, contain
from andon.incidents.escalate import escalations
from andon.incidents.records import IncidentError, get_incident
from andon.incidents.service import IncidentDesk
from andon.incidents.watch import IncidentWatch
from andon.ledger.keys import Signer, signing_key
from andon.notify import Dispatcher, WebhookNotifier
from andon.sdk.client import Andon
from incidents.helpers import apply, document
from incidents.world import Records, guard_support


def _now() -> datetime:
    return datetime.now(UTC)


def test_restore_refuses_to_run_when_the_evidence_freeze_fails(store: Engine, tmp_path: Path) -> None:
    control = StoreControl(store)
    v1 = control.publish_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        content="v1",
        actor="ml-eng",
        live=True,
    )
    control.approve_version(v1.id, actor="support-lead")
    control.publish_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        content="v2",
        actor="ml-eng",
        live=True,
    )
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the evidence directory should be")
    desk = IncidentDesk(store, signer=Signer.generate(), directory=blocked)
    opened = desk.declare(
        incident_class="model_or_prompt_drift", workflow="support-triage", summary="x", actor="mo"
    )
    assert opened.freeze is None and "freeze" in (opened.freeze_error or "")
    with pytest.raises(IncidentError, match=r"evidence freeze .* failed, so nothing was altered"):
        desk.restore(opened.incident.id, kind="prompt", name="triage-system", actor="mo", reason="restore")
    live = [v for v in control.list_versions(workflow="support-triage") if v.live]
    assert [v.content for v in live] == ["v2"]  # not restored
    with store.connect() as conn:
        assert [a.action for a in actions(conn, opened.incident.number)] == ["cap_autonomy"]
    desk.directory = tmp_path / "evidence"  # fixed: now the restore runs, after its own freeze
    step, frozen = desk.restore(
        opened.incident.id, kind="prompt", name="triage-system", actor="mo", reason="restore"
    )
    assert step.freeze_id == frozen.id and frozen.purpose == "before_restore"
    assert [v.content for v in control.list_versions(workflow="support-triage") if v.live] == ["v1"]


def test_one_click_containment_names_the_incident_and_is_checked_against_the_runbook(
    desk: IncidentDesk,
) -> None:
    incident = desk.declare(
        incident_class="wrong_system_update",
        workflow="support-triage",
        summary="x",
        actor="mo",
        contain=False,
    ).incident
    with desk.engine.begin() as conn:
        contain(
            conn,
            incident.id,
            action="block_tool",
            target="crm.update_tier",
            actor="mo",
            reason="stop tier changes",
            now=_now(),
        )
        contain(conn, incident.id, action="cap_autonomy", actor="mo", reason="drafts only", now=_now())
        with pytest.raises(IncidentError, match=r"has no tool 'crm\.typo'"):
            contain(
                conn, incident.id, action="block_tool", target="crm.typo", actor="mo", reason="x", now=_now()
            )
        with pytest.raises(IncidentError, match="not a switch"):
            contain(conn, incident.id, action="rollback", actor="mo", reason="x", now=_now())
    with desk.engine.connect() as conn:
        found = {(s.kind, s.target, s.actor) for s in list_switches(conn, now=_now())}
        assert get_incident(conn, incident.id).state == "contained"
    assert found == {("block_tool", "crm.update_tier", "mo"), ("cap_autonomy", "act_with_approval", "mo")}


def test_the_watch_contains_a_runaway_write_loop_before_the_declared_limit(
    db: tuple[str, str | None], engine: Engine, tmp_path: Path
) -> None:
    url, schema = db
    limit = 40  # declared: 40 writes a minute; the detector fires at 50 % of it
    apply(
        engine,
        document(
            limits={"rate": {"workflow": f"{limit}/min"}},
            detectors={"write_rate": {"max": 1000, "limit_share": 0.5}},
        ),
    )
    # the key the client's checkpointer signs with: a freeze refuses a checkpoint by another key
    desk = IncidentDesk(engine, signer=signing_key(), directory=tmp_path / "evidence")
    client = Andon.local(url, schema=schema, spool_dir=tmp_path / "spool", actor="svc-triage")
    records = Records()
    tools = guard_support(client, records)
    done = 0
    with IncidentWatch(engine, desk=desk, poll=0.02) as watch:
        try:
            for n in range(limit):
                tools["update_tier"](f"ACME-{n}", "platinum")
                done += 1
                time.sleep(0.02)
        except Denied as exc:
            assert exc.rule in ("writes_frozen", "tool_blocked", "credential_revoked")
        deadline = time.monotonic() + 5
        while (
            not any(h.opened.freeze or h.opened.created for h in watch.handled)
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
    client.close()
    assert done < limit, "the loop ran into the rate limit instead of being contained first"
    opened = next(h.opened for h in watch.handled if h.opened.created)
    assert opened.incident.incident_class == "wrong_system_update"
    assert {a.action for a in opened.containment if a.status == "applied"} == {
        "freeze_writes",
        "block_tool",
        "revoke_credential",
    }
    assert watch.errors == 0


class _Hook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))["notification"]
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[_Hook]:
    receiver = _Hook()
    yield receiver
    receiver.server.shutdown()


def test_clock_escalations_are_sent_once_per_step_to_a_real_webhook(
    store: Engine, tmp_path: Path, hook: _Hook
) -> None:
    dispatcher = Dispatcher([WebhookNotifier(name="ops", url=hook.url, secret="s3cret-key")])
    desk = IncidentDesk(store, signer=Signer.generate(), directory=tmp_path / "ev", dispatcher=dispatcher)
    incident = desk.declare(
        incident_class="prompt_injection", workflow="support-triage", summary="x", actor="sam"
    ).incident
    assert [b["dedup_key"] for b in hook.bodies] == [f"{incident.id}:opened"]  # the opening page
    with store.begin() as conn:
        acts.record_act(
            conn,
            incident,
            act="trigger",
            name="awareness",
            who="dpo",
            actor="dana",
            at=_now() - timedelta(hours=60),
            statement="Disclosed",
            now=_now(),
        )
    sent = desk.escalate()
    again = desk.escalate()
    assert len(sent) == 1 and again == []
    keys = [b["dedup_key"] for b in hook.bodies]
    assert keys[-1] == f"{incident.id}:clock:uk_gdpr/authority_notification:75"  # 60 h of 72: the 75 % step
    with store.connect() as conn:
        rows = escalations(conn, incident.number)
    assert {r["dedup_key"]: r["delivered"] for r in rows}[keys[-1]] is True
    superseded = [r for r in rows if r["dedup_key"].endswith(":50")]
    assert superseded and superseded[0]["delivered"] is None


def test_rollback_undoes_nothing_when_the_evidence_freeze_fails(
    db: tuple[str, str | None], store: Engine, tmp_path: Path
) -> None:
    url, schema = db
    client = Andon.local(url, schema=schema, spool_dir=tmp_path / "spool", actor="svc-triage")
    records = Records(tiers={"ACME-1": "gold"})
    tools = guard_support(client, records)
    tools["update_tier"]("ACME-1", "platinum")
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    desk = IncidentDesk(store, signer=signing_key(), directory=blocked)  # fails on the folder alone
    incident = desk.declare(
        incident_class="wrong_system_update",
        workflow="support-triage",
        summary="x",
        actor="mo",
        since=_now() - timedelta(minutes=5),
        contain=False,
    ).incident
    with pytest.raises(IncidentError, match="freeze"):
        desk.rollback(incident.id, client, actor="mo", reason="undo")
    assert records.tiers["ACME-1"] == "platinum"  # nothing undone
    desk.directory = tmp_path / "evidence"
    step, report = desk.rollback(incident.id, client, actor="mo", reason="undo")
    client.close()
    assert records.tiers["ACME-1"] == "gold" and step.status == "done" and len(report.rolled_back) == 1
    with store.connect() as conn:
        steps = [(a.action, a.status) for a in actions(conn, incident.number)]
    assert steps == [("rollback", "done")]


def test_channels_come_from_the_notify_configuration_with_secrets_from_the_environment(
    tmp_path: Path, hook: _Hook
) -> None:
    from andon.errors import ConfigError
    from andon.incidents.escalate import dispatcher_from_config
    from andon.notify import Notification

    config = tmp_path / "notify.yaml"
    assert dispatcher_from_config(config, env={}) is None  # no file: no channels
    config.write_text("channels:\n  ops: {kind: webhook, url_env: OPS_URL, secret_env: OPS_SECRET}\n")
    dispatcher = dispatcher_from_config(config, env={"OPS_URL": hook.url, "OPS_SECRET": "s3cret-key"})
    assert dispatcher is not None
    assert dispatcher.dispatch(Notification(title="t", severity="sev1", text="x")).delivered
    config.write_text("channels:\n  ops: {kind: webhook, url: http://example.invalid/x, secret_env: S}\n")
    with pytest.raises(ConfigError, match="secret"):
        dispatcher_from_config(config, env={"S": "k"})
