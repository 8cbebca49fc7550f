"""Personal data and secrets are masked on every path into the ledger, on SQLite and PostgreSQL.

An e-mail address, a phone number, a card number, an API key and an account id (the runbook's own
pattern) go in through a run's model call and a send tool's arguments (the SDK in local mode) and
through ``POST /v1/events``; ``ledger_events`` is then read directly. Each value must be gone, the same
value must carry the same keyed token on every path, ``andon verify`` must pass, and an evidence bundle
must hold nothing unmasked.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from andon.cli.main import cli
from andon.control.service import StoreControl
from andon.detect import DetectorEngine
from andon.ledger.checkpoint import write_checkpoint
from andon.ledger.events import Event
from andon.ledger.evidence import export_bundle, verify_bundle
from andon.ledger.keys import redaction_key, signing_key
from andon.ledger.log import read_events
from andon.ledger.redact import Redactor
from andon.runbook.revisions import latest_revision
from andon.sdk.client import Andon
from andon.server import apikeys
from andon.server.app import create_app
from andon.server.settings import Settings
from andon.store.tables import control_actions, ledger_events
from control.runbooks import apply, triage_document

EMAIL = "dana.price@customer.example"
PHONE = "+44 20 7946 0001"
CARD = "4111 1111 1111 1111"  # Luhn-valid test number
API_KEY = "sk-proj-Q7fz2LmN8pXw4RtY6vBc"
ACCOUNT = "ACCT-123456"
RAW = {"email": EMAIL, "phone": PHONE, "card": CARD, "secret": API_KEY, "account_id": ACCOUNT}
TEXT = f"Customer {EMAIL} ({PHONE}) paid with {CARD}; account {ACCOUNT}; our key {API_KEY}"
CUSTOM = {"patterns": [{"name": "account_id", "pattern": "ACCT-[0-9]{6}"}]}  # builtins by default

Db = tuple[str, str | None]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The signing and redaction keys live here, not in the working directory."""
    folder = tmp_path / "data"
    monkeypatch.setenv("ANDON_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def store(engine: Engine) -> Engine:
    """The test runbook with a custom ``account_id`` pattern applied."""
    apply(engine, triage_document() | {"redaction": CUSTOM})
    return engine


@pytest.fixture
def client(store: Engine, db: Db, tmp_path: Path) -> Iterator[Andon]:
    url, schema = db
    a = Andon.local(url, schema=schema, spool_dir=tmp_path / "spool", actor="svc-triage")
    yield a
    a.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(store: Engine, db: Db) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The real app in-process and an agent key's Authorization header."""
    url, schema = db
    app = create_app(Settings(database_url=url, database_schema=schema))
    async with app.router.lifespan_context(app):
        with store.begin() as conn:
            key = apikeys.create_key(
                conn,
                name="agent",
                role="agent",
                workflows=["support-triage"],
                expires_at=None,
                created_by="t",
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://andon.test") as http:
            yield http, {"Authorization": f"Bearer {key.secret}"}


def stored(engine: Engine) -> list[tuple[str, str]]:
    """(kind, canonical record) of every ledger event, read straight from the table."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ledger_events.c.kind, ledger_events.c.data).order_by(ledger_events.c.idx)
        )
        return [(kind, bytes(data).decode()) for kind, data in rows]


def tokens(text: str, rule: str) -> set[str]:
    return set(re.findall(rf"\[{rule}:[0-9a-f]{{10}}\]", text))


def expected_token(data_dir: Path, rule: str, value: str) -> str:
    return Redactor(key=redaction_key(data_dir)).mask(rule, value)


def assert_masked(records: list[str], data_dir: Path) -> None:
    """No raw value anywhere, and each value's one token present (the key from the data dir)."""
    joined = "\n".join(records)
    for rule, value in RAW.items():
        assert value not in joined, f"{rule} stored unmasked"
        assert tokens(joined, rule) == {expected_token(data_dir, rule, value)}, rule


def send_through_sdk(a: Andon) -> None:
    @a.tool("support-triage", "email.send_refund")
    def send_refund(to: str, body: str) -> dict[str, bool]:
        return {"queued": True}

    with a.run("support-triage", input={"ticket": TEXT}) as run:
        run.model_call(model="m", input=TEXT, output=f"Refund {EMAIL}", confidence=0.95)
        send_refund(to=EMAIL, body=TEXT)
    assert a.flush(30)


def test_sdk_model_call_and_send_args_are_masked_with_one_token_per_value(
    client: Andon, store: Engine, data_dir: Path
) -> None:
    send_through_sdk(client)
    records = stored(store)
    kinds = [kind for kind, _ in records]
    assert {"model_call", "decision", "action_outcome"} <= set(kinds)
    assert_masked([data for _, data in records], data_dir)
    # The same address is one token in the model call and in the send's arguments: still correlatable.
    model_call = next(data for kind, data in records if kind == "model_call")
    decision = next(data for kind, data in records if kind == "decision")
    assert (
        tokens(model_call, "email") == tokens(decision, "email") == {expected_token(data_dir, "email", EMAIL)}
    )
    # The tool ran with the real arguments, which the control plane keeps for execution and rollback.
    with store.connect() as conn:
        args = conn.execute(sa.select(control_actions.c.args)).scalar_one()
    assert args == {"to": EMAIL, "body": TEXT}


@pytest.mark.anyio
async def test_post_events_batch_is_masked_like_the_sdk(
    api: tuple[httpx.AsyncClient, dict[str, str]], client: Andon, store: Engine, data_dir: Path
) -> None:
    http, auth = api
    documents = [{"email": EMAIL, "notes": [PHONE, CARD, API_KEY, ACCOUNT]}]
    events = [
        {"kind": "model_call", "actor": "bot", "workflow": "support-triage", "payload": {"input": TEXT}},
        {"kind": "retrieval", "actor": "bot", "workflow": "support-triage",
         "payload": {"source": "kb", "documents": documents}},
    ]  # fmt: skip
    response = await http.post("/v1/events", json={"events": events}, headers=auth)
    assert response.status_code == 201, response.text
    posted = stored(store)
    assert len(posted) == 2
    assert_masked([data for _, data in posted], data_dir)
    send_through_sdk(client)  # another path, another engine: the same tokens
    assert_masked([data for _, data in stored(store)], data_dir)


def test_control_events_are_masked_too(store: Engine, data_dir: Path) -> None:
    control = StoreControl(store)
    control.set_switch(kind="pause_workflow", workflow="support-triage", actor="ops", reason=f"leak: {TEXT}")
    control.clear_switches(
        workflow="support-triage",
        actor="ops",
        reason=f"fixed for {EMAIL}, {PHONE}, {CARD}, {API_KEY}, {ACCOUNT}",
    )
    assert_masked([data for _, data in stored(store)], data_dir)


def test_a_new_revision_changes_the_rules_for_the_next_write(store: Engine, data_dir: Path) -> None:
    control = StoreControl(store)
    note = Event(kind="note", actor="ops", payload={"text": TEXT}, workflow="support-triage")
    control.append_events("b1", [note])
    apply(store, triage_document() | {"redaction": {"builtin": ["email"]}})  # phone, card, keys: off
    control.append_events("b2", [note])
    first, second = (data for _, data in stored(store))
    assert_masked([first], data_dir)
    assert EMAIL not in second and tokens(second, "email") == {expected_token(data_dir, "email", EMAIL)}
    assert PHONE in second and CARD in second and API_KEY in second and ACCOUNT in second


def test_before_any_runbook_every_builtin_rule_applies(engine: Engine, data_dir: Path) -> None:
    StoreControl(engine).append_events("b1", [Event(kind="note", actor="ops", payload={"text": TEXT})])
    [(_, data)] = stored(engine)
    for rule in ("email", "phone", "card", "secret"):
        assert RAW[rule] not in data and tokens(data, rule) == {expected_token(data_dir, rule, RAW[rule])}
    assert ACCOUNT in data  # custom patterns come only from a runbook


def test_verify_passes_and_evidence_holds_nothing_unmasked(
    client: Andon, store: Engine, db: Db, data_dir: Path, tmp_path: Path
) -> None:
    send_through_sdk(client)
    signer = signing_key(data_dir)
    with store.begin() as conn:
        assert write_checkpoint(conn, signer) is not None
    url, schema = db
    if schema is not None:  # the CLI reaches a test schema through libpq's search_path option
        url = f"{url}?options=-csearch_path%3D{schema}"
    result = CliRunner().invoke(cli, ["verify", "--db", url, "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    bundle = tmp_path / "evidence.zip"
    with store.connect() as conn:
        export_bundle(conn, out_path=bundle, signer=signer)
    assert verify_bundle(bundle).ok
    with zipfile.ZipFile(bundle) as zf:
        contents = [zf.read(name).decode("utf-8", "replace") for name in zf.namelist()]
    assert any(tokens(text, "email") for text in contents)
    for text in contents:
        for rule, value in RAW.items():
            assert value not in text, f"{rule} in the bundle"


def test_outbound_data_still_knows_the_organisations_own_address_once_masked(
    client: Andon, store: Engine
) -> None:
    @client.tool("support-triage", "email.send_refund")
    def send_refund(to: str, body: str) -> dict[str, bool]:
        return {"queued": True}

    with client.run("support-triage") as run:
        run.model_call(output="refund", confidence=0.95)
        send_refund(to="customer@example.org", body="Questions? Write to sue@acme.example.")
        send_refund(to="customer@example.org", body=f"Card {CARD} refunded. Questions: sue@acme.example")
    assert client.flush(30)
    with store.connect() as conn:
        events = read_events(conn)
        revision = latest_revision(conn)
    assert revision is not None
    signals = [s for s in DetectorEngine(revision.runbook).feed(events) if s.detector == "outbound_data"]
    # sue@acme.example is the organisation's own contact: masked in the ledger, and still not flagged.
    assert [s.details["found"] for s in signals] == [{"card": 1}]


@pytest.mark.parametrize(
    "text",
    [
        "act-4111111111111111abcdef0123456789",  # an action id whose hex holds a Luhn-valid digit run
        "sha256:ab4111111111111111cd",
        "ia-00000179a3f0c2e84111111111111111",
    ],
)
def test_ids_and_digests_are_never_masked(text: str, data_dir: Path) -> None:
    assert Redactor(key=redaction_key(data_dir)).redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [("+441234567890", "phone"), ("(020)7946-0001", "phone"), ("call 0207 946 0001 today", "phone"),
     ("4111111111111111", "card"), ("card:4111-1111-1111-1111", "card"),
     ("Bearer abcdefgh12345678", "secret"), ("BEARER abcdefgh12345678", "secret"), ("x@y.example", "email")],
)  # fmt: skip
def test_the_fast_path_never_skips_a_value_a_rule_masks(text: str, rule: str, data_dir: Path) -> None:
    """Each rule is only run on strings holding its trigger: the triggers must cover every match."""
    redactor = Redactor(key=redaction_key(data_dir))
    assert tokens(redactor.redact_text(text), rule), text
    assert redactor.redact_text(text) == redactor.redact_text(text)  # a second pass: the same token
