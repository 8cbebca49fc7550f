"""The receiver snippet in docs/notifications.md verifies a real Andon webhook request."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from andon.notify import Notification, WebhookNotifier

from .receivers import HttpReceiver

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"


def receiver_verify() -> Callable[[str, str, bytes], bool]:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"```python\n(# receiver-verify\n.*?)```", text, re.S)
    assert match, "docs/notifications.md lost its '# receiver-verify' example"
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)
    return namespace["verify"]  # type: ignore[return-value]


def test_the_documented_receiver_accepts_andon_and_rejects_a_tampered_body(receiver: HttpReceiver) -> None:
    verify = receiver_verify()
    WebhookNotifier(name="hook", url=receiver.url + "/in", secret="docs-secret").send(
        Notification(title="signed", severity="sev2", text="check me")
    )
    [request] = receiver.requests
    header = request.headers["x-andon-signature"]
    assert verify("docs-secret", header, request.body)
    assert not verify("docs-secret", header, request.body.replace(b"check me", b"check us"))
    assert not verify("other-secret", header, request.body)
    assert not verify("docs-secret", "t=1,v1=00", request.body)  # stale
