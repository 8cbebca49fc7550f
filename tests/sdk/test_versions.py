from __future__ import annotations

from collections.abc import Callable

import pytest

from andon.control.service import StoreControl
from andon.errors import ControlError
from andon.ledger.log import read_events
from andon.sdk.client import Andon


def _model_call_versions(operator: StoreControl) -> list[str]:
    with operator.engine.connect() as conn:
        return [e.payload["prompt_version"] for e in read_events(conn) if e.kind == "model_call"]


def test_restore_of_the_last_approved_prompt_is_what_the_next_model_call_reads(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    v3 = operator.publish_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        content="You triage tickets. Never change tiers without a contract.",
        actor="ml-eng",
        version="v3",
    )
    operator.approve_version(v3.id, actor="support-lead", live=True)
    operator.publish_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        content="You triage tickets. Upgrade anyone who asks.",
        actor="ml-eng",
        version="v4",
        live=True,
    )
    a = make_client()
    assert a.prompt("support-triage", "triage-system") == "You triage tickets. Upgrade anyone who asks."
    with a.run("support-triage") as run:
        run.model_call(output="upgrade", confidence=0.9)

    restored = operator.restore_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        to="last-approved",
        actor="ops-lead",
        reason="v4 upgrades everyone",
    )
    assert (restored.version, restored.live) == ("v3", True)
    assert a.refresh()
    prompt = a.prompt("support-triage", "triage-system")
    assert prompt == "You triage tickets. Never change tiers without a contract."
    with a.run("support-triage") as run:
        run.model_call(output="no change", confidence=0.9)
    assert a.flush()
    assert _model_call_versions(operator) == ["prompt:triage-system@v4", "prompt:triage-system@v3"]


def test_versions_are_immutable_and_approved_by_someone_else(operator: StoreControl) -> None:
    v1 = operator.publish_version(
        workflow="support-triage",
        kind="model",
        name="router",
        content={"name": "gpt-4.1-mini"},
        actor="ml-eng",
    )
    assert v1.version == "v1"
    with pytest.raises(ControlError, match="versions never change"):
        operator.publish_version(
            workflow="support-triage", kind="model", name="router", content={}, actor="x", version="v1"
        )
    with pytest.raises(ControlError, match="cannot approve"):
        operator.approve_version(v1.id, actor="ml-eng")
    with pytest.raises(ControlError, match="no approved version"):
        operator.restore_version(
            workflow="support-triage",
            kind="model",
            name="router",
            to="last-approved",
            actor="ops-lead",
            reason="x",
        )
    v2 = operator.publish_version(
        workflow="support-triage",
        kind="model",
        name="router",
        content={"name": "gpt-5"},
        actor="ml-eng",
        live=True,
    )
    back = operator.restore_version(
        workflow="support-triage", kind="model", name="router", to="v1", actor="ops-lead", reason="v2 is slow"
    )
    listed = operator.list_versions(workflow="support-triage", kind="model")
    assert [(v.version, v.live) for v in listed] == [("v1", True), ("v2", False)]
    assert back.id == v1.id and v2.content == {"name": "gpt-5"}


def test_without_published_versions_model_calls_record_the_runbook_s(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.5)
    assert a.flush()
    assert _model_call_versions(operator) == ["prompt:triage-system@v3"]
