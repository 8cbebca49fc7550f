"""Evidence bundles: a selection of ledger events with everything needed to check them offline.

A bundle is one zip (see docs/evidence-bundle.md for the byte-level format):

- ``manifest.json``   format, selection, counts, and the SHA-256 of every other member
- ``events.jsonl``    each selected event's canonical record (its exact leaf bytes), one per line
- ``proofs.jsonl``    an RFC 6962 inclusion proof per event against the checkpoint
- ``checkpoint``      the signed note (C2SP) of the tree the proofs lead to
- ``key.vkey``        the ledger's public key as a signed-note verifier key

The zip's archive comment carries an Ed25519 signature by the same key over every byte before
it, so changing any byte of the file — a member, a zip header, the manifest — fails verification.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from andon.errors import ConfigError, EvidenceError
from andon.ledger import merkle
from andon.ledger.canonical import canonical_bytes, format_time
from andon.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    open_note,
    write_checkpoint,
)
from andon.ledger.keys import Signer, Verifier, b64decode_strict, signing_key
from andon.ledger.log import select_events
from andon.ledger.tree import StoredTree
from andon.store.dialect import fetch_rows

FORMAT = "andon-evidence-bundle/1"
MEMBERS = ("manifest.json", "events.jsonl", "proofs.jsonl", "checkpoint", "key.vkey")
SIGNATURE_TAG = b"andon-sig "
COMMENT_SIZE = len(SIGNATURE_TAG) + len(base64.b64encode(bytes(68)))  # 4-byte key id + 64-byte signature
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # members carry no wall-clock time: the manifest has it


@dataclass(frozen=True, slots=True)
class Selection:
    """Which events a bundle holds; every given criterion must match."""

    workflow: str | None = None
    run_id: str | None = None
    incident_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "run_id": self.run_id,
            "incident_id": self.incident_id,
            "since": format_time(self.since) if self.since else None,
            "until": format_time(self.until) if self.until else None,
        }


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    events: int
    tree_size: int
    key_id: str


def bundle_message(prefix: bytes) -> bytes:
    """What the archive-comment signature signs: a context string and the SHA-256 of the bytes before it."""
    return FORMAT.encode("ascii") + b"\n" + hashlib.sha256(prefix).digest()


def export_bundle(
    conn: Connection,
    *,
    out_path: Path,
    selection: Selection | None = None,
    signer: Signer | None = None,
) -> ExportSummary:
    """Write a bundle of the selected events to ``out_path``; ``signer`` defaults to the data dir's key.

    Signs a fresh checkpoint (in the caller's transaction) when the newest one does not cover every
    selected event. Every proof is checked before the bundle is written, so a tampered store
    raises EvidenceError instead of producing a bundle that would not verify.
    """
    selection = selection or Selection()
    signer = signer or signing_key()
    query = select_events(
        workflow=selection.workflow,
        run_id=selection.run_id,
        incident_id=selection.incident_id,
        since=selection.since,
        until=selection.until,
    )
    rows = [(int(r.idx), bytes(r.leaf_hash), bytes(r.data)) for r in conn.execute(query)]
    checkpoint_row = latest_checkpoint(conn)
    if checkpoint_row is None or (rows and checkpoint_row.size <= rows[-1][0]):
        checkpoint_row = write_checkpoint(conn, signer)
    if checkpoint_row is None:
        raise EvidenceError("the ledger is empty; there is nothing to export")
    verifier = signer.verifier
    try:
        checkpoint = open_note(checkpoint_row.note, verifier)
    except CheckpointError as exc:
        raise EvidenceError(f"the newest checkpoint does not verify with the ledger key: {exc}") from None
    for index, stored_hash, data in rows:
        if merkle.leaf_hash(data) != stored_hash:
            raise EvidenceError(
                f"leaf {index} was edited: its bytes do not match its leaf hash; run andon verify"
            )
    proofs = _proofs(conn, {index: stored_hash for index, stored_hash, _ in rows}, checkpoint)
    events_out = io.BytesIO()
    proofs_out = io.BytesIO()
    for index, _, data in rows:
        proof = proofs[index]
        events_out.write(data + b"\n")
        line = {
            "index": index,
            "proof": [binascii.b2a_base64(h, newline=False).decode("ascii") for h in proof],
        }
        proofs_out.write(canonical_bytes(line) + b"\n")
    members = {
        "events.jsonl": events_out.getvalue(),
        "proofs.jsonl": proofs_out.getvalue(),
        "checkpoint": checkpoint_row.note.encode("utf-8"),
        "key.vkey": (verifier.vkey() + "\n").encode("ascii"),
    }
    manifest = {
        "format": FORMAT,
        "created_at": format_time(datetime.now(UTC)),
        "selection": selection.as_dict(),
        "events": len(rows),
        "tree_size": checkpoint.size,
        "origin": checkpoint.origin,
        "key_id": verifier.key_id.hex(),
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in members.items()},
    }
    members = {
        "manifest.json": json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n",
        **members,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(_signed_zip(members, signer))
    return ExportSummary(
        path=out_path, events=len(rows), tree_size=checkpoint.size, key_id=verifier.key_id.hex()
    )


_LEAVES_QUERY = "SELECT leaf_hash FROM ledger_events WHERE idx < ? ORDER BY idx"
_DENSE_MAX_SIZE = 1 << 22  # a whole tree of up to 4M leaves (~300 MB) is built in memory


def _proofs(conn: Connection, leaves: dict[int, bytes], checkpoint: Checkpoint) -> dict[int, list[bytes]]:
    """Inclusion proofs of the ``leaves`` (index -> leaf hash) against ``checkpoint``, each known to verify.

    A large share of a tree is cheapest proved from the whole tree built in memory; its root is
    compared with the checkpoint once, which vouches for every path taken from it. Otherwise the
    proofs come from the stored nodes, and each is verified before it is used.
    """
    size, root = checkpoint.size, checkpoint.root
    indexes = list(leaves)
    if size <= _DENSE_MAX_SIZE and len(indexes) * 64 >= size:
        leaf_hashes = [h for (h,) in fetch_rows(conn, _LEAVES_QUERY, (size,))]
        if len(leaf_hashes) != size or merkle.root(leaf_hashes) != root:
            raise EvidenceError("the stored leaves do not give the checkpoint's root; run andon verify")
        return merkle.inclusion_proofs(leaf_hashes, indexes, size)
    proofs = StoredTree(conn).inclusion_proofs(indexes, size)
    for index in indexes:
        if not merkle.verify_inclusion(
            leaf_hash=leaves[index], index=index, size=size, proof=proofs[index], root=root
        ):
            raise EvidenceError(f"leaf {index} does not verify against the checkpoint; run andon verify")
    return proofs


def _signed_zip(members: Mapping[str, bytes], signer: Signer) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in MEMBERS:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
        archive.comment = bytes(COMMENT_SIZE)  # a placeholder of the final length, so the prefix is final
    unsigned = buffer.getvalue()
    prefix = unsigned[:-COMMENT_SIZE]
    signature = signer.sign(bundle_message(prefix))
    return prefix + SIGNATURE_TAG + base64.b64encode(signer.verifier.key_id + signature)


@dataclass(slots=True)
class BundleReport:
    """What ``verify_bundle`` found; ``ok`` only when nothing is wrong."""

    path: str
    events: int = 0
    tree_size: int | None = None
    origin: str | None = None
    key_id: str | None = None
    selection: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": self.path,
            "events": self.events,
            "tree_size": self.tree_size,
            "origin": self.origin,
            "key_id": self.key_id,
            "selection": self.selection,
            "problems": self.problems,
        }


def verify_bundle(path: Path, *, key: str | None = None) -> BundleReport:
    """Check a bundle with nothing but its own bytes (and ``key``, a pinned verifier key, if given)."""
    report = BundleReport(path=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.problems.append(f"cannot read the bundle: {exc}")
        return report
    try:
        _verify(data, key, report)
    except _Stop as stop:
        report.problems.append(str(stop))
    return report


class _Stop(Exception):
    """A problem after which nothing else in the bundle can be trusted."""


def _verify(data: bytes, key: str | None, report: BundleReport) -> None:
    members = _read_zip(data)
    verifier = _verifier(members["key.vkey"], key)
    report.key_id = verifier.key_id.hex()
    _check_signature(data, verifier)
    manifest = _manifest(members, report)
    try:
        checkpoint = open_note(members["checkpoint"].decode("utf-8"), verifier)
    except (CheckpointError, UnicodeDecodeError) as exc:
        raise _Stop(f"checkpoint: {exc}") from None
    report.tree_size, report.origin = checkpoint.size, checkpoint.origin
    if manifest.get("tree_size") != checkpoint.size or manifest.get("key_id") != verifier.key_id.hex():
        report.problems.append("manifest.json: tree_size or key_id differs from the checkpoint and key")
    events = members["events.jsonl"].split(b"\n")
    proofs = members["proofs.jsonl"].split(b"\n")
    if events[-1] != b"" or proofs[-1] != b"" or len(events) != len(proofs):
        raise _Stop("events.jsonl and proofs.jsonl must hold one newline-terminated line per event, paired")
    for number, (line, proof_line) in enumerate(zip(events[:-1], proofs[:-1], strict=True), start=1):
        problem = _check_event(line, proof_line, checkpoint.size, checkpoint.root)
        if problem:
            report.problems.append(f"events.jsonl line {number}: {problem}")
    report.events = len(events) - 1
    if manifest.get("events") != report.events:
        report.problems.append(
            f"manifest.json says {manifest.get('events')} events; the bundle holds {report.events}"
        )


def _read_zip(data: bytes) -> dict[str, bytes]:
    if len(data) < _EOCD_SIZE + COMMENT_SIZE or data[-COMMENT_SIZE - _EOCD_SIZE :][:4] != _EOCD:
        raise _Stop("not an evidence bundle: the zip does not end in a signed archive comment")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if sorted(names) != sorted(MEMBERS):
                raise _Stop(f"the bundle must hold exactly {', '.join(MEMBERS)}; it holds {', '.join(names)}")
            return {name: archive.read(name) for name in MEMBERS}
    except _Stop:
        raise
    except Exception as exc:  # zipfile, zlib and struct raise many types on corrupt data
        raise _Stop(f"the zip is damaged: {type(exc).__name__}: {exc}") from None


def _verifier(vkey: bytes, pinned: str | None) -> Verifier:
    try:
        verifier = Verifier.parse(vkey.decode("ascii"))
    except (ConfigError, UnicodeDecodeError) as exc:
        raise _Stop(f"key.vkey: {exc}") from None
    if pinned is not None:
        try:
            expected = Verifier.parse(pinned)
        except ConfigError:
            expected = _raw_key(pinned, verifier.name)
        if expected.public_key != verifier.public_key:
            found, wanted = verifier.key_id.hex(), expected.key_id.hex()
            raise _Stop(f"the bundle is signed by key {found}, not by the pinned key {wanted}")
    return verifier


def _raw_key(text: str, name: str) -> Verifier:
    try:
        raw = b64decode_strict(text.strip())
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise _Stop("--key must be a verifier key (name+id+base64) or a base64 Ed25519 public key")
    return Verifier(name=name, public_key=raw)


def _check_signature(data: bytes, verifier: Verifier) -> None:
    comment = data[-COMMENT_SIZE:]
    if not comment.startswith(SIGNATURE_TAG):
        raise _Stop("the archive comment is not an andon bundle signature")
    try:
        blob = b64decode_strict(comment[len(SIGNATURE_TAG) :])
    except binascii.Error:
        raise _Stop("the bundle signature is not valid base64") from None
    if blob[:4] != verifier.key_id:
        raise _Stop(
            f"the bundle is signed by key id {blob[:4].hex()}, not by key.vkey ({verifier.key_id.hex()})"
        )
    if not verifier.verify(blob[4:], bundle_message(data[:-COMMENT_SIZE])):
        raise _Stop("the bundle signature does not verify: the file was changed after export")


def _manifest(members: Mapping[str, bytes], report: BundleReport) -> dict[str, Any]:
    try:
        manifest = json.loads(members["manifest.json"])
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Stop(f"manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _Stop(f"manifest.json: format must be {FORMAT!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or sorted(files) != sorted(MEMBERS[1:]):
        raise _Stop(f"manifest.json: files must list {', '.join(MEMBERS[1:])}")
    for name in MEMBERS[1:]:
        if hashlib.sha256(members[name]).hexdigest() != files[name]:
            report.problems.append(f"{name}: its SHA-256 differs from manifest.json")
    selection = manifest.get("selection")
    report.selection = selection if isinstance(selection, dict) else None
    return manifest


def _check_event(line: bytes, proof_line: bytes, size: int, root: bytes) -> str | None:
    try:
        record = json.loads(line)
        proof_record = json.loads(proof_line)
        index = record["index"]
        proof = [b64decode_strict(h) for h in proof_record["proof"]]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        return f"unreadable event or proof ({type(exc).__name__}: {exc})"
    if not isinstance(index, int) or proof_record.get("index") != index:
        return "the event's index and its proof's index differ"
    if not merkle.verify_inclusion(
        leaf_hash=merkle.leaf_hash(line), index=index, size=size, proof=proof, root=root
    ):
        return f"leaf {index} is not included in the checkpoint (the event or its proof was changed)"
    return None
