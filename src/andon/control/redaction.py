"""The ledger's redactor for a store: the newest runbook revision's ``redaction`` rules, built once.

Every write to the ledger — control events, the SDK's event batches, ``POST /v1/events``, incident
events — masks its payloads with ``ledger_redactor(conn)`` before they are hashed and stored, so no
path can forget it. The redactor is cached per engine and per revision, as ``snapshot.policies`` caches
compiled policies: revisions are immutable, so a newly applied revision (whatever process applied it)
is simply a cache miss on the next write, read in the writer's own transaction.

The default, when no runbook is applied yet or the runbook has no ``redaction`` section (or omits
``builtin``), is every builtin rule the ledger knows: e-mail, phone, card and secret. The promise is
"no unmasked personal data in logs"; a team that wants less must say so in the runbook
(``builtin: []``), and what would be lost by masking too much is only readability — correlation
survives through the keyed hash.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from andon.control.snapshot import current_revision
from andon.ledger.redact import BUILTIN_NAMES, Redactor
from andon.store import data_dir
from andon.store.tables import runbook_revisions

log = logging.getLogger(__name__)

# engine -> (revision, key directory, redactor). The key directory is part of the key because it
# comes from $ANDON_DATA_DIR, which a process (a test, the demo) may point elsewhere.
_redactors: weakref.WeakKeyDictionary[Engine, tuple[int | None, Path, Redactor]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def ledger_redactor(conn: Connection) -> Redactor:
    """The redactor for events appended in ``conn``'s transaction: the newest revision's rules."""
    return redactor_for(conn, current_revision(conn))


def redactor_for(conn: Connection, revision: int | None) -> Redactor:
    """The redactor of runbook ``revision`` (None: before any runbook), cached per engine."""
    key_dir = data_dir()
    cached = _redactors.get(conn.engine)
    if cached is not None and cached[0] == revision and cached[1] == key_dir:
        return cached[2]
    section: Mapping[str, Any] | None = None
    if revision is not None:
        document = conn.execute(
            sa.select(runbook_revisions.c.document).where(runbook_revisions.c.revision == revision)
        ).scalar_one()
        section = document.get("redaction")
    redactor = Redactor.from_config(_supported(section, revision), key_dir=key_dir)
    with _lock:
        _redactors[conn.engine] = (revision, key_dir, redactor)
    return redactor


def _supported(section: Mapping[str, Any] | None, revision: int | None) -> dict[str, Any]:
    """The section with defaults filled in and builtin names the ledger has no rule for left out.

    The runbook's vocabulary names rules (``iban``, ``ip_address``, ``national_id``) the redactor does
    not implement yet; refusing every write over that would stop the line for a logging gap.
    """
    section = dict(section or {})
    builtin = section.get("builtin")
    if builtin is None:
        builtin = list(BUILTIN_NAMES)
    unknown = [name for name in builtin if name not in BUILTIN_NAMES]
    if unknown:
        log.warning(
            "runbook revision %s: redaction rule(s) %s are not implemented; values they would match "
            "are stored unless another rule or a custom pattern masks them",
            revision,
            ", ".join(unknown),
        )
    section["builtin"] = [name for name in builtin if name in BUILTIN_NAMES]
    return section
