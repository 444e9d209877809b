"""Deliveries per second through ``ws.deliveries.run()`` against a bare loop of POSTs.

Both sides POST the same signed bodies to the same local receiver (``http.server`` on
127.0.0.1, answering 200, in a thread of this process), alternating rounds so that
drift hits both alike:

- ``outbox``: ``ws.deliveries.run()`` on a SQLite store holding N pending webhook
  deliveries (a fresh copy of one seeded file per round): claim a batch with a lease
  (one transaction), POST each outside any transaction, record each outcome in its
  own transaction before the next POST.
- ``bare``: a loop of ``urllib.request.urlopen`` POSTs of the same requests (body, signature
  and headers built by ``transport.webhook_request``),
  no store at all: the floor the runner's bookkeeping sits on.

Run: ``python benchmarks/bench_deliveries.py --deliveries 500 --rounds 5``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline_core import Customer, FixedClock, Workspace
from pipeline_core.domain.events import JSONValue
from pipeline_core.domain.outbox import Delivery
from pipeline_core.storage import open_store
from pipeline_core.workspace.transport import webhook_request

SECRET = "bench"
T0 = datetime(2026, 1, 9, 13, 0, tzinfo=UTC)


@contextmanager
def receiver() -> Iterator[tuple[str, list[int]]]:
    """A receiver answering 200 to every POST; its URL and the count of requests."""
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            count[0] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", count
    finally:
        server.shutdown()
        server.server_close()


def seed(path: Path, url: str, count: int) -> list[Delivery]:
    """A SQLite workspace holding ``count`` pending webhook deliveries; the deliveries."""
    with Workspace.open(f"sqlite:///{path}", clock=FixedClock(T0)) as ws:
        ws.deliveries.configure(webhook_secret=SECRET)
        ada = ws.customers.add(Customer(name="Ada Lovelace", emails=["ada@example.com"]))
    store = open_store(f"sqlite:///{path}")
    customer: dict[str, JSONValue] = {"id": ada.id, "name": ada.name}
    try:
        with store.transaction() as tx:
            return tx.insert_deliveries(
                [
                    Delivery(
                        channel="webhook",
                        target=url,
                        payload={"automation": "bench", "customer": customer, "n": n},
                        automation="bench",
                        customer_id=ada.id,
                        event_id=None,
                        created_at=T0,
                        next_attempt_at=T0,
                    )
                    for n in range(count)
                ]
            )
    finally:
        store.close()


def outbox_round(seeded: Path, work: Path, count: int) -> float:
    """Seconds ``ws.deliveries.run()`` takes to deliver every seeded delivery."""
    shutil.copy(seeded, work)
    with Workspace.open(f"sqlite:///{work}", clock=FixedClock(T0)) as ws:
        start = time.perf_counter()
        report = ws.deliveries.run()
        elapsed = time.perf_counter() - start
    assert report.delivered == count, report
    work.unlink()
    return elapsed


def bare_round(deliveries: list[Delivery]) -> float:
    """Seconds a plain urllib loop takes to POST the same signed bodies."""
    start = time.perf_counter()
    for delivery in deliveries:
        request = webhook_request(delivery, SECRET)
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    return time.perf_counter() - start


def main() -> None:
    """Alternate rounds of both sides; print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    with receiver() as (url, received), tempfile.TemporaryDirectory() as tmp:
        seeded = Path(tmp) / "seeded.db"
        deliveries = seed(seeded, url, args.deliveries)
        times: dict[str, list[float]] = {"outbox": [], "bare": []}
        for index in range(args.rounds):
            sides = ("outbox", "bare") if index % 2 == 0 else ("bare", "outbox")
            for side in sides:
                if side == "outbox":
                    elapsed = outbox_round(seeded, Path(tmp) / "work.db", args.deliveries)
                else:
                    elapsed = bare_round(deliveries)
                times[side].append(elapsed)
        assert received[0] == 2 * args.rounds * args.deliveries
    for side, values in times.items():
        rates = sorted(args.deliveries / t for t in values)
        print(
            f"{side:7s} median {statistics.median(rates):8.0f} deliveries/s"
            f"  (rounds: {', '.join(f'{r:.0f}' for r in rates)})"
        )
    ratio = statistics.median(times["outbox"]) / statistics.median(times["bare"])
    print(f"outbox takes {ratio:.2f}x the bare loop's time")


if __name__ == "__main__":
    main()
