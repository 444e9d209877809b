"""Benchmark: quick search and visibility-scoped reads on SQLite, against scans.

    .venv/bin/python benchmarks/bench_access.py --customers 100000

builds a SQLite store of that many customers in a temporary directory
(deterministic names, emails, phones, tags, 20 teams, assigned workers), then
measures, each the best of ``--repeat`` runs alternating with its baseline:

(a) ``ws.customers.search`` of a name prefix, as the system actor and as an agent
    in two teams, against the scan a search without an index does: every row's
    name folded and tested in Python (``LIKE`` cannot fold accents);
(b) ``ws.customers.search`` of a phone's last 4 digits, against a SQL scan of
    every row's phone digits (``replace`` chains and ``LIKE '%0132'``);
(c) the agent's first page (``list_customers(limit=50)``) and count, against
    the same queries as the system actor (what the scope costs).

It also prints SQLite's query plan of a search, to show the range seek.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline_core import Customer, Workspace
from pipeline_core.domain.search import fold

FIRST = ("José", "Ana", "Björn", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hugo", "Inès")
LAST = ("Núñez", "Smith", "Larsen", "Dubois", "Ivanov", "Rossi", "Khan", "Hopper", "Ng", "Weiß")
TAGS = ("vip", "wholesale", "retail", "partner", "lapsed")
TEAMS = tuple(f"team{n:02d}" for n in range(20))


def build(path: Path, customers: int, seed: int) -> None:
    """A store of ``customers`` deterministic customers, written in one transaction."""
    rng = random.Random(seed)
    ws = Workspace.open(f"sqlite:///{path}")
    ws.init()
    for team in TEAMS:
        ws.teams.add(team)
    ws.users.add("ann", "agent", [TEAMS[0], TEAMS[1]])
    with ws.store.transaction() as tx:
        for n in range(customers):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            tx.insert_customer(
                Customer(
                    name=f"{first} {last} {n}",
                    status="Lead",
                    emails=(f"{fold(first)}.{n}@example.com",),
                    phones=(f"+1 415-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}",),
                    tags=rng.sample(TAGS, rng.randint(0, 2)),
                    team=rng.choice(TEAMS),
                    workers=("ann",) if rng.random() < 0.01 else (),
                )
            )
    ws.close()


def best(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def compare(
    label: str, ours: Callable[[], object], baseline: Callable[[], object], repeat: int
) -> None:
    ours()  # warm-up
    baseline()
    ours_times, base_times = [], []
    for _ in range(repeat):
        ours_times.append(best(ours, 1)[0])
        base_times.append(best(baseline, 1)[0])
    a, b = min(ours_times) * 1000, min(base_times) * 1000
    print(f"{label:<48} {a:9.2f} ms   baseline {b:9.2f} ms   {b / a:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "access.db"
        start = time.perf_counter()
        build(path, args.customers, args.seed)
        print(f"built {args.customers} customers in {time.perf_counter() - start:.1f} s")
        system = Workspace.open(f"sqlite:///{path}")
        agent = Workspace.open(f"sqlite:///{path}", actor="ann")
        raw = sqlite3.connect(path)

        def scan_names(prefix: str) -> list[int]:
            rows = raw.execute("SELECT id, name FROM customers")
            return [i for i, name in rows if any(w.startswith(prefix) for w in fold(name).split())]

        def scan_phones(digits: str) -> list[int]:
            sql = (
                "SELECT id FROM customers WHERE replace(replace(replace(replace(phones,"
                " '-', ''), ' ', ''), '+', ''), '.', '') LIKE ?"
            )
            return [row[0] for row in raw.execute(sql, (f'%{digits}"%',))]

        compare(
            "(a) search 'chlo' as system (limit 50)",
            lambda: system.customers.search("chlo"),
            lambda: scan_names("chlo"),
            args.repeat,
        )
        compare(
            "(a) search 'chlo dub' as agent (limit 50)",
            lambda: agent.customers.search("chlo dub"),
            lambda: scan_names("chlo"),
            args.repeat,
        )
        compare(
            "(b) search phone '0132' as system",
            lambda: system.customers.search("0132"),
            lambda: scan_phones("0132"),
            args.repeat,
        )
        compare(
            "(c) agent list_customers(limit=50) vs system",
            lambda: agent.customers.list(limit=50),
            lambda: system.customers.list(limit=50),
            args.repeat,
        )
        compare(
            "(c) agent count_customers() vs system",
            agent.customers.count,
            system.customers.count,
            args.repeat,
        )
        print(
            "found:",
            len(agent.customers.search("chlo dub")),
            "of",
            agent.customers.count(),
            "visible",
        )
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM search_index('{names tags} : \"chlo\"*')"
        ).fetchall()
        print("plan:", "; ".join(row[-1] for row in plan))
        raw.close()
        system.close()
        agent.close()


if __name__ == "__main__":
    main()
