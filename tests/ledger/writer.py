"""A ledger writer run in its own process by the concurrency and crash tests.

Usage: writer.py URL SCHEMA|- WRITER_ID BATCHES BATCH_SIZE KEY_DIR [--checkpoint-interval S]

After each committed batch it prints ``<writer id> <first index> <last index>`` and flushes, so the
parent knows exactly which events were acknowledged before it kills the process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from andon.ledger.checkpoint import Checkpointer
from andon.ledger.events import Event
from andon.ledger.keys import signing_key
from andon.ledger.log import append
from andon.store import create_engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("schema")
    parser.add_argument("writer_id", type=int)
    parser.add_argument("batches", type=int)
    parser.add_argument("batch", type=int)
    parser.add_argument("key_dir", type=Path)
    parser.add_argument("--checkpoint-interval", type=float, default=0.0)
    args = parser.parse_args()
    engine = create_engine(args.url, schema=None if args.schema == "-" else args.schema)
    checkpointer = None
    if args.checkpoint_interval:
        checkpointer = Checkpointer(
            engine, signer=signing_key(args.key_dir), interval=args.checkpoint_interval
        )
        checkpointer.start()
    for number in range(args.batches):
        events = [
            Event(
                kind="note",
                actor=f"writer-{args.writer_id}",
                workflow=f"wf-{args.writer_id}",
                payload={"writer": args.writer_id, "batch": number, "item": i},
            )
            for i in range(args.batch)
        ]
        with engine.begin() as conn:
            indexes = append(conn, events)
        sys.stdout.write(f"{args.writer_id} {indexes[0]} {indexes[-1]}\n")
        sys.stdout.flush()
    if checkpointer is not None:
        checkpointer.stop()
    engine.dispose()


if __name__ == "__main__":
    main()
