"""Signed checkpoints: C2SP signed notes over (origin, tree size, root hash).

A checkpoint note reads::

    andon.ledger/3f9a1c2b7e0d4a51
    1024
    <base64 root hash>

    — andon.ledger/3f9a1c2b7e0d4a51 <base64(4-byte key id || 64-byte Ed25519 signature)>

The signature covers the three body lines including the last newline. A checkpoint is written
only after a consistency proof from the previous one verifies, so the ledger never signs a fork.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from andon.errors import LedgerError
from andon.ledger import merkle
from andon.ledger.keys import Signer, Verifier, b64decode_strict
from andon.ledger.tree import StoredTree, read_head
from andon.store.dialect import advisory_xact_lock
from andon.store.tables import ledger_checkpoints

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, then a space
CHECKPOINT_LOCK = 0x616E646F6E01  # advisory lock id: b"andon" + 0x01


class CheckpointError(LedgerError):
    """A checkpoint note is malformed, signed by another key, or its signature is wrong.

    ``kind`` is ``malformed``, ``key_replaced`` or ``bad_signature``.
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: which log, how many leaves, which root."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"

    def sign(self, signer: Signer) -> str:
        """The signed note text."""
        body = self.body()
        signature = signer.sign(body.encode("utf-8"))
        blob = base64.b64encode(signer.verifier.key_id + signature).decode("ascii")
        return f"{body}\n{SIGNATURE_PREFIX}{signer.name} {blob}\n"


def parse_note(note: str) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """Split a checkpoint note into its checkpoint and (key name, key id, signature) lines.

    Raises CheckpointError(kind="malformed") saying what is wrong.
    """
    if not note.endswith("\n") or "\n\n" not in note:
        raise CheckpointError("checkpoint note has no blank line before its signatures", kind="malformed")
    split = note.rindex("\n\n")
    body, sig_text = note[: split + 1], note[split + 2 :]
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError(
            "checkpoint body needs an origin, a size and a root hash line", kind="malformed"
        )
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"checkpoint size line {size_text!r} is not a decimal number", kind="malformed")
    try:
        root = b64decode_strict(root_text)
    except binascii.Error:
        root = b""
    if len(root) != merkle.HASH_SIZE:
        raise CheckpointError(
            f"checkpoint root line {root_text!r} is not a base64 SHA-256 hash", kind="malformed"
        )
    signatures: list[tuple[str, bytes, bytes]] = []
    for line in sig_text.split("\n")[:-1]:
        if not line.startswith(SIGNATURE_PREFIX) or line.count(" ") != 2:
            raise CheckpointError(f"signature line {line!r} is malformed", kind="malformed")
        name, encoded = line[len(SIGNATURE_PREFIX) :].split(" ")
        try:
            blob = b64decode_strict(encoded)
        except binascii.Error:
            blob = b""
        if len(blob) < 5:
            raise CheckpointError(
                f"signature line {line!r} is not base64(key id || signature)", kind="malformed"
            )
        signatures.append((name, blob[:4], blob[4:]))
    if not signatures:
        raise CheckpointError("checkpoint note carries no signature", kind="malformed")
    return Checkpoint(origin=origin, size=int(size_text), root=root), signatures


def open_note(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint in ``note`` once its signature by ``verifier`` checks; else CheckpointError."""
    checkpoint, signatures = parse_note(note)
    body = note[: note.rindex("\n\n") + 1].encode("utf-8")
    expected = verifier.key_id
    for name, kid, signature in signatures:
        if name == verifier.name and kid == expected:
            if not verifier.verify(signature, body):
                raise CheckpointError(
                    f"checkpoint at size {checkpoint.size} has a bad signature by {verifier.name}",
                    kind="bad_signature",
                )
            if checkpoint.origin != verifier.name:
                raise CheckpointError(
                    f"checkpoint origin {checkpoint.origin!r} is not this log ({verifier.name})",
                    kind="malformed",
                )
            return checkpoint
    seen = ", ".join(f"{name} (key id {kid.hex()})" for name, kid, _ in signatures)
    raise CheckpointError(
        f"checkpoint at size {checkpoint.size} is signed by {seen}, not by the ledger key "
        f"{verifier.name} (key id {expected.hex()}): the signing key was replaced",
        kind="key_replaced",
    )


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    id: int
    size: int
    root: bytes
    note: str
    key_id: str
    created_at: datetime


def read_checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    """Every stored checkpoint, oldest first."""
    rows = conn.execute(sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.id))
    return [_stored(r) for r in rows]


def latest_checkpoint(conn: Connection) -> StoredCheckpoint | None:
    """The checkpoint of the largest tree (the newest among equals)."""
    c = ledger_checkpoints.c
    query = sa.select(ledger_checkpoints).order_by(c.size.desc(), c.id.desc()).limit(1)
    row = conn.execute(query).one_or_none()
    return None if row is None else _stored(row)


def _stored(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        id=int(row.id),
        size=int(row.size),
        root=bytes(row.root),
        note=row.note,
        key_id=row.key_id,
        created_at=row.created_at,
    )


def write_checkpoint(conn: Connection, signer: Signer) -> StoredCheckpoint | None:
    """Sign and store a checkpoint of the current tree, in the caller's transaction.

    Returns the newest checkpoint (unchanged when no event arrived since), or None for an empty
    ledger. Raises LedgerError, signing nothing, when the tree is not an extension of the last
    checkpoint or the stored tree disagrees with the head.
    """
    advisory_xact_lock(conn, CHECKPOINT_LOCK)
    size, frontier = read_head(conn)
    if size == 0:
        return None
    head_root = merkle.CompactRange(size=size, hashes=frontier).root()
    last = latest_checkpoint(conn)
    if last is not None and last.size == size:
        return last
    tree = StoredTree(conn)
    if tree.root(size) != head_root:
        raise LedgerError(
            f"refusing to sign: the stored tree of size {size} disagrees with the head; run andon verify"
        )
    if last is not None:
        previous, _ = parse_note(last.note)
        proof = tree.consistency_proof(previous.size, size) if previous.size < size else []
        if previous.size > size or not merkle.verify_consistency(
            size1=previous.size, size2=size, root1=previous.root, root2=head_root, proof=proof
        ):
            raise LedgerError(
                f"refusing to sign: the tree of size {size} is not consistent with the checkpoint at size "
                f"{previous.size}; run andon verify"
            )
    note = Checkpoint(origin=signer.name, size=size, root=head_root).sign(signer)
    now = datetime.now(UTC)
    kid = signer.verifier.key_id.hex()
    new_id = conn.execute(
        ledger_checkpoints.insert().values(size=size, root=head_root, note=note, key_id=kid, created_at=now)
    ).inserted_primary_key
    assert new_id is not None
    return StoredCheckpoint(
        id=int(new_id[0]), size=size, root=head_root, note=note, key_id=kid, created_at=now
    )


class Checkpointer:
    """A background thread that signs a checkpoint every ``interval`` seconds while events arrive.

    Errors are logged and kept in ``last_error``; the thread keeps trying, because a transient
    database error must not end checkpointing for the life of the process.
    """

    def __init__(self, engine: Engine, *, signer: Signer, interval: float = 1.0) -> None:
        self.engine = engine
        self.signer = signer
        self.interval = interval
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> StoredCheckpoint | None:
        """Write a checkpoint now (if the tree grew) and return the newest one."""
        with self.engine.begin() as conn:
            return write_checkpoint(conn, self.signer)

    def start(self) -> Checkpointer:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="andon-checkpointer", daemon=True)
            self._thread.start()
        return self

    def stop(self, *, final: bool = True) -> None:
        """Stop the thread; with ``final`` sign one last checkpoint so nothing appended goes unsigned."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if final:
            self.run_once()

    def _loop(self) -> None:
        next_run = time.monotonic()
        while not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # keep the thread alive; the error is logged and kept
                self.last_error = exc
                log.exception("ledger checkpoint failed")
            next_run += self.interval
            self._stop.wait(max(0.0, next_run - time.monotonic()))

    def __enter__(self) -> Checkpointer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(final=exc_type is None)
