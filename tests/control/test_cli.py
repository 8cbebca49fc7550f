"""The operator's commands, run as a person would (SQLite store; the services run on both databases)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from andon.cli.main import cli
from andon.control.actions import ActionRequest
from andon.control.service import StoreControl
from andon.errors import ControlError
from andon.store import create_engine, migrate

from .runbooks import apply, triage_document


@pytest.fixture
def store(sqlite_url: str) -> StoreControl:
    engine = create_engine(sqlite_url)
    migrate(engine)
    apply(engine, triage_document(autonomy="act_with_approval"))
    return StoreControl(engine)


def andon(store: StoreControl, *args: str) -> Result:
    runner = CliRunner(env={"COLUMNS": "250"})
    return runner.invoke(cli, [*args, "--db", str(store.engine.url)], catch_exceptions=True)


def test_pause_list_and_resume(store: StoreControl) -> None:
    result = andon(
        store, "pause", "support-triage", "-r", "wrong tiers", "--for", "2h", "--actor", "ops-lead"
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("paused support-triage until ")
    listed = json.loads(andon(store, "switches", "list", "-o", "json").output)
    assert [(s["kind"], s["actor"], s["reason"]) for s in listed] == [
        ("pause_workflow", "ops-lead", "wrong tiers")
    ]
    assert "pause_workflow" in andon(store, "switches").output
    result = andon(store, "resume", "support-triage", "-r", "fixed", "--actor", "ops-lead")
    assert "1 pause(s) lifted" in result.output
    assert json.loads(andon(store, "switches", "list", "-o", "json").output) == []


def test_switches_set_and_clear_name_their_target(store: StoreControl) -> None:
    result = andon(
        store, "switches", "set", "block_tool", "-w", "support-triage", "-t", "crm.update_tier", "-r", "x"
    )
    assert result.exit_code == 0 and "block_tool crm.update_tier" in result.output
    typo = andon(store, "switches", "set", "block_tool", "-w", "support-triage", "-t", "crm.updat", "-r", "x")
    assert isinstance(typo.exception, ControlError) and "declared: crm.update_tier" in str(typo.exception)
    assert (
        "cleared block_tool" in andon(store, "switches", "clear", "-w", "support-triage", "-r", "done").output
    )


def test_approvals_from_the_command_line(store: StoreControl) -> None:
    held = store.decide(
        ActionRequest(
            workflow="support-triage",
            tool="crm.update_tier",
            actor="svc-triage",
            args={"account_id": "a1", "tier": "gold"},
            confidence=0.9,
            before={"tier": "standard"},
            context={"input": "ticket 5"},
        )
    )
    assert held.approval_id
    listed = json.loads(andon(store, "approvals", "list", "-o", "json").output)
    assert [a["id"] for a in listed] == [held.approval_id]
    shown = andon(store, "approvals", "show", held.approval_id)
    assert "act_with_approval" in shown.output and "ticket 5" in shown.output
    own = andon(store, "approvals", "approve", held.approval_id, "--actor", "svc-triage")
    assert isinstance(own.exception, ControlError) and "cannot approve" in str(own.exception)
    edited = andon(
        store,
        "approvals",
        "approve",
        held.approval_id,
        "--actor",
        "support-lead",
        "--edit",
        '{"account_id": "a1", "tier": "silver"}',
    )
    assert edited.exit_code == 0, edited.output
    assert store.get_approval(held.approval_id).effective_args == {"account_id": "a1", "tier": "silver"}
    stats = json.loads(andon(store, "approvals", "stats", "-o", "json").output)
    assert [(s["approver"], s["decisions"]) for s in stats] == [("support-lead", 1)]


def test_versions_publish_approve_restore(store: StoreControl, tmp_path: Path) -> None:
    prompt = tmp_path / "v3.txt"
    prompt.write_text("Be careful.")
    out = andon(
        store,
        "versions",
        "publish",
        "support-triage",
        "prompt",
        "triage-system",
        "--file",
        str(prompt),
        "--version",
        "v3",
        "--actor",
        "ml-eng",
    ).output
    v3_id = out.split("(")[1].split(")")[0]
    assert andon(store, "versions", "approve", v3_id, "--live", "--actor", "support-lead").exit_code == 0
    andon(
        store,
        "versions",
        "publish",
        "support-triage",
        "prompt",
        "triage-system",
        "--content",
        "Be bold.",
        "--live",
        "--actor",
        "ml-eng",
    )
    restored = andon(
        store,
        "versions",
        "restore",
        "support-triage",
        "prompt",
        "triage-system",
        "-r",
        "bold",
        "--actor",
        "ops-lead",
    )
    assert restored.output.strip().startswith("prompt:triage-system@v3 is live again")
    listed = json.loads(andon(store, "versions", "list", "support-triage", "-o", "json").output)
    assert [(v["version"], v["live"]) for v in listed] == [("v3", True), ("v2", False)]


def test_rollback_plan_and_run_with_the_agent_s_undos(
    store: StoreControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(store.engine, triage_document(autonomy="autonomous"))
    db_path = store.engine.url.database
    (tmp_path / "myagent.py").write_text(
        textwrap.dedent(f"""
        from andon.sdk.client import Andon

        CRM = {{}}
        andon = Andon.local({db_path!r}, actor="svc-triage")

        def read_tier(account_id):
            return CRM.get(account_id, "standard")

        def restore_tier(change):
            CRM[change.args["account_id"]] = change.before

        @andon.tool("support-triage", "crm.update_tier", undo=restore_tier, state=read_tier)
        def update_tier(account_id, tier):
            CRM[account_id] = tier
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import myagent  # type: ignore[import-not-found]

    try:
        with myagent.andon.run("support-triage") as run:
            run.model_call(output="x", confidence=0.9)
            for n in range(5):
                myagent.update_tier(f"acct-{n}", "gold")
        myagent.CRM["acct-4"] = "enterprise"  # changed by a person since
        plan = json.loads(
            andon(store, "rollback", "plan", "-w", "support-triage", "--since", "1h", "-o", "json").output
        )
        assert len(plan) == 5
        result = CliRunner(env={"COLUMNS": "250"}).invoke(
            cli,
            [
                "rollback",
                "run",
                "-w",
                "support-triage",
                "--tools",
                "myagent:andon",
                "-r",
                "bad tiers",
                "--actor",
                "ops-lead",
            ],
        )
        assert result.exit_code == 1  # a conflict is reported, and the command says so
        assert "5 planned, 4 rolled back" in result.output and "1 conflicts" in result.output
        assert {f"acct-{n}": "standard" for n in range(4)} | {"acct-4": "enterprise"} == myagent.CRM
    finally:
        myagent.andon.close()
        sys.modules.pop("myagent", None)
