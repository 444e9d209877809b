"""Phone normalization with ``phone_check`` against an earlier ``normalize`` and bare phonenumbers.

On the same phone strings, caches cleared before every round, alternating:

- ``normalize_phone`` as it is (validity by ``pipeline_core.domain.phone_check``, plain
  national digits read without the parser);
- with ``--before FILE``, the ``normalize_phone`` of an earlier ``normalize.py``
  (loaded as a module of its own; it must give the same keys);
- bare phonenumbers as a hand-written import would: ``parse`` +
  ``is_valid_number`` + ``format_number(E164)``;
- and, on the numbers already parsed, the validity test alone: ``phone_check``
  against ``phonenumbers.is_valid_number`` (which must agree).

Two inputs: the bulk import's (``bench_import.generate``: US, GB, DE, BR and IN
numbers as typed in the import CSV) and the duplicate benchmark's
(``bench_duplicates.generate``: US, GB, DE, BE, BR in five spellings, WhatsApp
numbers). Target: ``normalize_phone`` faster than the bare validating form.

Run::

    git show 9dd605f:src/pipeline_core/normalize.py > /tmp/normalize_before.py
    python benchmarks/bench_phones.py --rows 20000 --before /tmp/normalize_before.py
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from types import ModuleType
from typing import Any

import phonenumbers
from bench_duplicates import bare_validating
from bench_duplicates import generate as duplicate_people
from bench_import import generate as import_csv

from pipeline_core.domain import phone_check
from pipeline_core.domain.normalize import clear_caches, normalize_phone

Phone = tuple[str, str | None, bool]  # (text, region, whatsapp)


def import_phones(rows: int) -> list[Phone]:
    """The phone column of the import benchmark's CSV, with each row's country."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        import_csv(path, rows)
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            return [(row[2], row[3], False) for row in reader if row[2]]


def duplicate_phones(rows: int) -> list[Phone]:
    """The phones and WhatsApp numbers of the duplicate benchmark's customers."""
    found: list[Phone] = []
    for person in duplicate_people(rows, seed=2026):
        found.extend((text, person.country, False) for text in person.phones)
        if person.whatsapp:
            found.append((person.whatsapp, person.country, True))
    return found


def load_before(path: Path) -> ModuleType:
    """An earlier ``normalize.py`` (say from ``git show``) as a module of its own."""
    spec = importlib.util.spec_from_file_location("normalize_before", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alternating(actions: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, Any]]:
    """Median seconds of each action and its last result, running them in turn each round."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, action in actions.items():
            started = time.perf_counter()
            results[name] = action()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(times[name]), results[name]) for name in actions}


def measure(label: str, phones: list[Phone], rounds: int, old: ModuleType | None) -> None:
    """Time each way of normalizing ``phones`` in alternating rounds, and print the figures."""

    def ours() -> list[tuple[str, bool]]:
        clear_caches()
        keys = (normalize_phone(text, region, whatsapp=w) for text, region, w in phones)
        return [(key.key, key.valid) for key in keys]

    def before() -> list[tuple[str, bool]]:
        assert old is not None
        old.clear_caches()
        keys = (old.normalize_phone(text, region, whatsapp=w) for text, region, w in phones)
        return [(key.key, key.valid) for key in keys]

    def bare() -> int:
        return bare_validating(phones)

    parsed = []
    for text, region, _ in phones:
        with suppress(phonenumbers.NumberParseException):
            parsed.append(phonenumbers.parse(text, region))

    def check_ours() -> int:
        return sum(map(phone_check.is_valid_number, parsed))

    def check_library() -> int:
        return sum(map(phonenumbers.is_valid_number, parsed))

    actions: dict[str, Callable[[], Any]] = {"ours": ours, "bare": bare}
    if old is not None:
        actions["before"] = before
    actions |= {"check ours": check_ours, "check library": check_library}
    for action in actions.values():
        action()  # one warm-up each: metadata loading and regex compiling happen once
    measured = alternating(actions, rounds)
    ours_s, keys = measured["ours"]
    bare_s, bare_valid = measured["bare"]
    check_s, checked = measured["check ours"]
    library_s, library_checked = measured["check library"]
    assert checked == library_checked, "phone_check disagrees with phonenumbers"
    n = len(phones)
    valid = sum(ok for _, ok in keys)
    print(f"\n{label}: {n:,} phone strings ({valid:,} valid for us, {bare_valid:,} bare)")
    print(f"  normalize_phone:                  {ours_s / n * 1e6:6.2f} us/phone")
    if old is not None:
        before_s, before_keys = measured["before"]
        assert keys == before_keys, "the earlier normalize_phone gave other keys"
        print(f"  normalize_phone before (--before): {before_s / n * 1e6:6.2f} us/phone")
    print(f"  bare parse + is_valid + format:   {bare_s / n * 1e6:6.2f} us/phone")
    if old is not None:
        print(f"  ratio before/now:                 {before_s / ours_s:6.2f}x")
    print(f"  ratio bare/now:                   {bare_s / ours_s:6.2f}x (target > 1)")
    m = len(parsed)
    print(f"  is_valid_number on {m:,} parsed numbers: phone_check {check_s / m * 1e6:.2f} us,")
    print(f"    phonenumbers {library_s / m * 1e6:.2f} us ({library_s / check_s:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="Rows of each input.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="An earlier normalize.py to time beside this one (git show REV:src/pipeline_core/normalize.py).",
    )
    args = parser.parse_args()
    old = load_before(args.before) if args.before else None
    measure("import input (bench_import)", import_phones(args.rows), args.rounds, old)
    measure("duplicates input (bench_duplicates)", duplicate_phones(args.rows), args.rounds, old)


if __name__ == "__main__":
    main()
