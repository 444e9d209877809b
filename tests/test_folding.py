"""Folding for search and reports: transliterated by anyascii, lower case, idempotent."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from anyascii import anyascii
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.domain.folding import FOLDING, fold
from pipeline_core.domain.report_keys import normalized
from pipeline_core.domain.search import words
from pipeline_core.storage.postgres_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from pipeline_core.storage.protocol import SCHEMA_VERSION
from pipeline_core.storage.sql.common import FOLDING_KEY, META_TABLE
from pipeline_core.storage.sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS

from .conftest import fresh_store_url


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Łukasz", "lukasz"),
        ("Øyvind", "oyvind"),
        ("Đorđe", "dorde"),
        ("Işık", "isik"),  # noqa: RUF001 (the dotless i is the point)
        ("Æsa", "aesa"),
        ("José Ñúñez", "jose nunez"),
        ("Jose\u0301", "jose"),  # decomposed: the combining accent is dropped
        ("ÉCOLE Straße", "ecole strasse"),
        ("İstanbul", "istanbul"),
        ("ﬁnance Ｗｅｂ", "finance web"),  # noqa: RUF001 (ligature, full-width letters)
        ("Иван", "ivan"),
        ("Αθήνα", "athina"),
    ],
)
def test_names_fold_to_what_people_type(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_a_letter_without_an_ascii_spelling_is_kept_and_searchable() -> None:
    rare = "\U0002a6d7"  # a CJK Extension B ideograph anyascii has no spelling for
    assert anyascii(rare) == "" and rare.isalnum()
    assert fold(rare) == rare
    assert words(f"Mr {rare}") == ["mr", rare]


@settings(max_examples=500)
@given(st.text())
def test_folding_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert normalized(normalized(text)) == normalized(text)


@settings(max_examples=300)
@given(st.text())
def test_folding_is_the_transliteration_of_each_character(text: str) -> None:
    # Character by character (no context), so words fold alike wherever they stand.
    assert fold(text) == "".join(fold(char) for char in text)
    for char in text.casefold():
        spelled = anyascii(char)
        if spelled:
            assert fold(char) == spelled.lower()


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_ascii_text_only_loses_its_case(text: str) -> None:
    assert fold(text) == text.lower()


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(categories=["Lu", "Ll", "Lt"])))
def test_case_never_matters(text: str) -> None:
    assert fold(text.upper()) == fold(text) == fold(text.lower())


def test_report_groups_merge_transliterated_spellings() -> None:
    assert normalized(" Łódź  Office ") == normalized("LODZ office") == "lodz office"


# stores written with the old folding -----------------------------------------------------

OLD_TERMS = [("t", "łukasz", 4), ("t", "wojcik", 4)]
"""What schema 5 indexed for "Łukasz Wójcik": accents dropped, but Ł is no accented L."""


def schema_5_search(migrations: dict[int, tuple[str, ...]]) -> list[str]:
    """Statements turning a store's search index back into schema 5's term table."""
    terms_table = [s for s in migrations[5] if "search_terms" in s]
    return ["DROP TABLE search_index", *terms_table]


def test_a_sqlite_store_of_schema_5_is_reindexed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Workspace.open(f"sqlite:///{path}") as ws:
        ws.customers.add(Customer(name="Łukasz Wójcik"))
    with closing(sqlite3.connect(path)) as db, db:
        for statement in schema_5_search(SQLITE_MIGRATIONS):
            db.execute(statement)
        db.executemany("INSERT INTO search_terms VALUES (?, ?, 1, ?)", OLD_TERMS)
        db.execute(f"UPDATE {META_TABLE} SET value = '5' WHERE key = 'schema_version'")
    with Workspace.open(f"sqlite:///{path}", create=False) as ws:
        assert [c.name for c in ws.customers.search("Lukasz")] == ["Łukasz Wójcik"]
        assert [c.name for c in ws.customers.search("wojcik")] == ["Łukasz Wójcik"]
    with closing(sqlite3.connect(path)) as db:
        stored = db.execute(f"SELECT key, value FROM {META_TABLE} ORDER BY key").fetchall()
        assert stored == [("schema_version", str(SCHEMA_VERSION)), (FOLDING_KEY, FOLDING)]
        assert (
            db.execute("SELECT name FROM sqlite_master WHERE name = 'search_terms'").fetchall()
            == []
        )
        assert db.execute("SELECT names FROM search_index").fetchall() == [("lukasz wojcik",)]


@pytest.mark.postgres
def test_a_postgres_store_of_schema_5_is_reindexed_on_open() -> None:
    import psycopg

    url = fresh_store_url("postgres")
    with Workspace.open(url) as ws:
        ws.customers.add(Customer(name="Łukasz Wójcik"))
    with psycopg.connect(url, autocommit=True) as db:
        for statement in schema_5_search(POSTGRES_MIGRATIONS):
            db.execute(statement)
        with db.cursor() as cursor:
            cursor.executemany("INSERT INTO search_terms VALUES (%s, %s, 1, %s)", OLD_TERMS)
        db.execute(f"UPDATE {META_TABLE} SET value = '5' WHERE key = 'schema_version'")
    with Workspace.open(url) as ws:
        assert [c.name for c in ws.customers.search("Lukasz")] == ["Łukasz Wójcik"]
        assert ws.customers.search("łukasz") == ws.customers.search("LUKASZ")


def test_a_store_indexed_by_another_folding_is_reindexed_on_open(tmp_path: Path) -> None:
    # As after an upgrade of anyascii: same schema, terms made by another folding.
    path = tmp_path / "folded.db"
    with Workspace.open(f"sqlite:///{path}") as ws:
        ws.customers.add(Customer(name="Łukasz Wójcik"))
    with closing(sqlite3.connect(path)) as db, db:
        assert db.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = ?", (FOLDING_KEY,)
        ).fetchone() == (FOLDING,)
        db.execute("UPDATE search_index SET names = 'x' || names")
        db.execute(f"UPDATE {META_TABLE} SET value = 'fold 0' WHERE key = ?", (FOLDING_KEY,))
    with Workspace.open(f"sqlite:///{path}") as ws:
        assert [c.name for c in ws.customers.search("lukasz")] == ["Łukasz Wójcik"]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = ?", (FOLDING_KEY,)
        ).fetchone() == (FOLDING,)
