"""Duplicate detection at scale, and phone normalization throughput, each against a baseline.

1. Clusters: ``ws.customers.dupes()`` on a SQLite store of N customers
   (default 1,000,000) of which about 5 % are duplicates of another customer,
   typed differently (another phone format, the email in another case or with a
   display name, the WhatsApp number of someone's phone), some of them chained so
   that clusters are transitive. Baseline, in the same run on the same file: the
   plain SQL ``SELECT kind, key, COUNT(*) FROM contact_keys GROUP BY kind, key
   HAVING COUNT(*) > 1`` that only finds the shared keys. Target: within 2x.
2. Normalization: ``normalize_phone(text, region)`` on every phone and WhatsApp
   string of the data set, cache cleared first, against bare
   ``phonenumbers.format_number(phonenumbers.parse(text, region), E164)`` on the
   same strings (which neither validates nor handles WhatsApp or ``00``).
   Target: no slower.

The customers are bulk-inserted with SQL (through the Workspace a million adds
would take most of an hour); their contact keys are then computed by the store's
own ``rebuild_contact_keys``, which is timed and reported too.

Run: ``python benchmarks/bench_duplicates.py --customers 1000000``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sqlite3
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import phonenumbers

from pipeline_core import Workspace
from pipeline_core.domain.normalize import CACHE_SIZE, clear_caches, normalize_phone

# Per region: the country code, a template for the national significant number
# ('#' is any digit, 'N' 2-9, 'M' 2-7: valid numbers), and how that number is
# written nationally and internationally.
REGIONS: dict[str, tuple[str, str, Callable[[str], str], Callable[[str], str]]] = {
    "US": (
        "1",
        "415N######",
        lambda n: f"({n[:3]}) {n[3:6]}-{n[6:]}",
        lambda n: f"+1 {n[:3]}-{n[3:6]}-{n[6:]}",
    ),
    "GB": (
        "44",
        "207N######",
        lambda n: f"0{n[:2]} {n[2:6]} {n[6:]}",
        lambda n: f"+44 {n[:2]} {n[2:6]} {n[6:]}",
    ),
    "DE": (
        "49",
        "30N#######",
        lambda n: f"0{n[:2]} {n[2:]}",
        lambda n: f"+49 {n[:2]} {n[2:]}",
    ),
    "BE": (
        "32",
        "2M######",
        lambda n: f"0{n[0]} {n[1:4]} {n[4:6]} {n[6:]}",
        lambda n: f"+32 {n[0]} {n[1:4]} {n[4:6]} {n[6:]}",
    ),
    "BR": (
        "55",
        "119N#######",
        lambda n: f"({n[:2]}) {n[2:7]}-{n[7:]}",
        lambda n: f"+55 {n[:2]} {n[2:7]}-{n[7:]}",
    ),
}
WEIGHTS = (40, 15, 15, 10, 20)
DOMAINS = ("example.com", "mail.example.org", "empresa.com.br", "firma.de", "bedrijf.be")


class Person:
    """One generated customer's contact data: what the store's columns will hold."""

    __slots__ = ("country", "emails", "phones", "whatsapp")

    def __init__(
        self, emails: list[str], phones: list[str], whatsapp: str | None, country: str
    ) -> None:
        self.emails = emails
        self.phones = phones
        self.whatsapp = whatsapp
        self.country = country


def bare_validating(phones: list[tuple[str, str | None, bool]]) -> int:
    """Bare phonenumbers as a hand-written import would: parse, is_valid_number, E.164."""
    valid = 0
    for text, region, _ in phones:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            valid += 1
    return valid


def _domain(local: str) -> str:
    return DOMAINS[zlib.crc32(local.encode()) % len(DOMAINS)]


_DIGITS = {"#": (0, 10), "N": (2, 10), "M": (2, 8)}


def _number(rng: random.Random, template: str) -> str:
    return "".join(str(rng.randrange(*_DIGITS[c])) if c in _DIGITS else c for c in template)


def _spell(rng: random.Random, region: str, national: str) -> str:
    code, _, local, international = REGIONS[region]
    style = rng.randrange(5)
    if style == 0:
        return local(national)
    if style == 1:
        return international(national)
    if style == 2:
        return f"+{code}{national}"
    if style == 3:
        return "00 " + international(national)[1:]
    return international(national).replace(" ", ".").replace("-", ".")


def generate(count: int, seed: int, duplicate_rate: float = 0.05) -> Iterator[Person]:
    """``count`` people; about ``duplicate_rate`` of them repeat an earlier one's contacts."""
    rng = random.Random(seed)
    regions = list(REGIONS)
    originals: list[tuple[str, str, str]] = []  # (region, national number, email local part)
    for index in range(count):
        if originals and rng.random() < duplicate_rate:
            region, national, local = rng.choice(originals[-50_000:])
            how = rng.randrange(4)
            domain = _domain(local)
            if how == 0:  # same phone, written another way
                yield Person([], [_spell(rng, region, national)], None, region)
            elif how == 1:  # same email, other case and a display name
                yield Person([f"Someone <{local.upper()}@{domain.upper()}>"], [], None, region)
            elif how == 2:  # the phone as a WhatsApp number, and a new email (chains)
                code = REGIONS[region][0]
                new_local = f"dup{index}"
                originals.append((region, national, new_local))
                yield Person([f"{new_local}@{domain}"], [], f"{code}{national}", region)
            else:  # both
                yield Person([f"{local}@{domain}"], [_spell(rng, region, national)], None, region)
            continue
        region = rng.choices(regions, WEIGHTS)[0]
        national = _number(rng, REGIONS[region][1])
        local = f"person{index}"
        originals.append((region, national, local))
        domain = _domain(local)
        phone = _spell(rng, region, national)
        if rng.random() < 0.01:  # what people also type: a local number without area code
            phone = f"{national[-7:-4]}-{national[-4:]}"
        yield Person([f"{local}@{domain}"], [phone], None, region)


def load(path: Path, people: Iterator[Person]) -> tuple[int, float]:
    """Bulk-insert the people into a fresh store, then index their keys; (count, seconds)."""
    with Workspace.open(f"sqlite:///{path}") as ws:
        ws.init()
    db = sqlite3.connect(path)
    now = "2026-01-01T00:00:00.000000+00:00"
    rows = (
        (
            f"Customer {n}",
            now,
            now,
            json.dumps(p.emails),
            json.dumps(p.phones),
            p.whatsapp,
            p.country,
        )
        for n, p in enumerate(people)
    )
    cursor = db.executemany(
        "INSERT INTO customers (name, status, created_at, updated_at, version, emails, phones,"
        " whatsapp, country) VALUES (?, 'Lead', ?, ?, 1, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    count = cursor.rowcount
    db.close()
    with Workspace.open(f"sqlite:///{path}") as ws:
        started = time.perf_counter()
        with ws.store.transaction() as tx:
            tx.rebuild_contact_keys()
        return count, time.perf_counter() - started


def alternating(actions: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, Any]]:
    """Median seconds of each action and its last result, running them in turn each round.

    Alternating spreads the drift of a shared machine over every side alike.
    """
    times: dict[str, list[float]] = {name: [] for name in actions}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, action in actions.items():
            started = time.perf_counter()
            results[name] = action()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(times[name]), results[name]) for name in actions}


def bench_clusters(path: Path, rounds: int) -> None:
    with Workspace.open(f"sqlite:///{path}") as ws:
        db = sqlite3.connect(path)
        group_by = (
            "SELECT kind, key, COUNT(*) FROM contact_keys GROUP BY kind, key HAVING COUNT(*) > 1"
        )
        db.execute(group_by).fetchall()  # warm the page cache for both sides
        measured = alternating(
            {"clusters": ws.customers.dupes, "plain": lambda: db.execute(group_by).fetchall()},
            rounds,
        )
        clusters_s, clusters = measured["clusters"]
        plain_s, groups = measured["plain"]
        keys = db.execute("SELECT COUNT(*) FROM contact_keys").fetchone()[0]
        db.close()
    members = sum(len(c.customer_ids) for c in clusters)
    print(f"contact keys indexed:        {keys:,}")
    print(f"shared keys (GROUP BY):      {len(groups):,}")
    print(f"clusters / customers in them: {len(clusters):,} / {members:,}")
    print(f"find_duplicates (median):    {clusters_s:.3f} s")
    print(f"plain GROUP BY (median):     {plain_s:.3f} s")
    print(f"ratio find_duplicates/GROUP BY: {clusters_s / plain_s:.2f} (target <= 2)")


def bench_normalize(path: Path, limit: int, rounds: int) -> None:
    db = sqlite3.connect(path)
    strings: list[tuple[str, str | None, bool]] = []
    for phones, whatsapp, country in db.execute(
        "SELECT phones, whatsapp, country FROM customers ORDER BY id LIMIT ?", (limit,)
    ):
        strings.extend((text, country, False) for text in json.loads(phones))
        if whatsapp:
            strings.append((whatsapp, country, True))
    db.close()

    def ours() -> int:
        clear_caches()
        return sum(normalize_phone(t, r, whatsapp=w).valid for t, r, w in strings)

    e164 = phonenumbers.PhoneNumberFormat.E164

    def bare() -> int:
        done = 0
        for text, region, _ in strings:
            try:
                phonenumbers.format_number(phonenumbers.parse(text, region), e164)
                done += 1
            except phonenumbers.NumberParseException:
                pass
        return done

    def validating() -> int:
        return bare_validating(strings)

    repeated = strings[: CACHE_SIZE // 2]  # inputs seen before that fit in the cache

    def warm() -> int:
        return sum(normalize_phone(t, r, whatsapp=w).valid for t, r, w in repeated)

    measured = alternating({"ours": ours, "bare": bare, "validating": validating}, rounds)
    ours_s, valid = measured["ours"]
    bare_s, parsed = measured["bare"]
    checked_s, checked = measured["validating"]
    clear_caches()
    warm()  # seen once; the measured rounds see them again
    warm_s, _ = alternating({"warm": warm}, rounds)["warm"]
    warm_n = len(repeated)
    n = len(strings)
    print(f"phone strings:               {n:,} ({valid:,} valid for us, {parsed:,} parsed bare)")
    print(f"normalize_phone, cold cache: {n / ours_s:,.0f} /s")
    print(f"bare parse+format_number:    {n / bare_s:,.0f} /s")
    print(f"ratio ours/bare throughput:  {bare_s / ours_s:.2f} (target >= 1)")
    print(f"bare parse+is_valid+format:  {n / checked_s:,.0f} /s ({checked:,} valid)")
    print(f"ratio ours/validating bare:  {checked_s / ours_s:.2f}")
    print(
        f"normalize_phone, warm cache: {warm_n / warm_s:,.0f} /s ({warm_n:,} strings seen before)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--duplicate-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--normalize", type=int, default=200_000, help="Customers whose phones are normalized."
    )
    parser.add_argument("--dir", type=Path, default=None, help="Where the SQLite file goes.")
    parser.add_argument(
        "--db", type=Path, default=None, help="Keep the store here; reuse it if it exists."
    )
    parser.add_argument("--skip-normalize", action="store_true", help="Clusters only.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = args.db or Path(tmp) / "dupes.db"
        if path.exists():
            print(f"reusing {path}")
        else:
            started = time.perf_counter()
            people = generate(args.customers, args.seed, args.duplicate_rate)
            count, keys_s = load(path, people)
            print(f"customers: {count:,} (seed {args.seed}, duplicate rate {args.duplicate_rate})")
            print(
                f"load + index: {time.perf_counter() - started:.1f} s, of which keys {keys_s:.1f} s"
            )
            # The bulk indexing filled the normalization caches; find_duplicates normally
            # runs in a fresh process, where the collector has no such heap to walk.
            clear_caches()
            gc.collect()
        bench_clusters(path, args.rounds)
        if not args.skip_normalize:
            bench_normalize(path, args.normalize, args.rounds)


if __name__ == "__main__":
    main()
