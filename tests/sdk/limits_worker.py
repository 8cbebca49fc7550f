"""One agent process hammering a rate-limited tool with many threads; prints what it executed as JSON.

Run by tests/sdk/test_limits.py (and bench/control.py) as:
python limits_worker.py URL SCHEMA|- SPOOL_DIR THREADS ATTEMPTS START_AT
"""

from __future__ import annotations

import json
import sys
import threading
import time

from andon.errors import Denied
from andon.sdk.client import Andon


def main(argv: list[str]) -> None:
    url, schema, spool, threads, attempts, start_at = argv
    a = Andon.local(
        url, schema=None if schema == "-" else schema, spool_dir=spool, lock_timeout=60, actor="svc-runaway"
    )
    executed = 0
    rules: dict[str, int] = {}
    lock = threading.Lock()

    @a.tool("support-triage", "crm.update_tier")
    def update_tier(account_id: str, tier: str) -> str:
        nonlocal executed
        with lock:
            executed += 1
        return tier

    def worker(n: int) -> None:
        with a.run("support-triage", input=f"thread {n}") as run:
            run.model_call(output="upgrade", confidence=0.99)
            for i in range(int(attempts)):
                try:
                    update_tier(f"acct-{n}-{i}", "gold")
                except Denied as exc:
                    with lock:
                        rules[exc.rule] = rules.get(exc.rule, 0) + 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(int(threads))]
    while time.time() < float(start_at):
        time.sleep(0.001)
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    a.close()
    print(json.dumps({"executed": executed, "denied": rules, "seconds": elapsed}))


if __name__ == "__main__":
    main(sys.argv[1:])
