"""Quick search on every backend: names, emails, phones, tags; ranked; within the scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import Customer, InvalidValue, Workspace
from pipeline_core.domain.search import (
    EMAIL,
    PHONE,
    TEXT,
    SearchQuery,
    Term,
    fold,
    parse_query,
    phone_key,
    score,
    search_terms,
    term_rows,
    words,
)
from pipeline_core.testing import customers, texts

from .conftest import StoreFactory


@pytest.fixture
def ws(make_store: StoreFactory) -> Workspace:
    workspace = Workspace(make_store())
    workspace.init()
    return workspace


def names(found: list[Customer]) -> list[str]:
    return [c.name for c in found]


def test_names_ignore_case_and_accents_and_match_word_prefixes(ws: Workspace) -> None:
    ws.customers.add(Customer(name="José Ñúñez"))
    ws.customers.add(Customer(name="Joseph Brown"))
    ws.customers.add(Customer(name="Ann Smith"))
    assert names(ws.customers.search("jose")) == ["José Ñúñez", "Joseph Brown"]
    assert names(ws.customers.search("NUNEZ")) == ["José Ñúñez"]
    assert names(ws.customers.search("jo br")) == ["Joseph Brown"]
    assert names(ws.customers.search("smi")) == ["Ann Smith"]
    assert ws.customers.search("mith") == []  # word prefixes, not any substring


@pytest.mark.parametrize(
    ("name", "queries"),
    [
        ("Łukasz Wójcik", ("Lukasz", "lukasz wojcik", "ŁUK")),
        ("Øyvind Strømme", ("Oyvind", "stromme")),
        ("Đorđe Balašević", ("Dorde", "balasevic", "Đorđe")),
        ("Işık Aydın", ("Isik", "aydin", "IŞIK")),  # noqa: RUF001 (the dotless i)
        ("Æsa Þórsdóttir", ("Aesa", "thorsdottir")),
        ("Straße Weiß", ("strasse", "weiss")),
        ("Иван Петров", ("Ivan", "Иван", "petrov")),
    ],
)
def test_letters_without_a_combining_accent_are_found_by_their_ascii_spelling(
    ws: Workspace, name: str, queries: tuple[str, ...]
) -> None:
    ws.customers.add(Customer(name=name, emails=[f"{name.split()[0].lower()}@example.org"]))
    ws.customers.add(Customer(name="Someone Else"))
    for query in queries:
        assert names(ws.customers.search(query)) == [name], query
    assert names(ws.customers.search(name)) == [name]


def test_phones_match_whatever_the_punctuation_and_by_suffix(ws: Workspace) -> None:
    us = ws.customers.add(Customer(name="Us", phones=("+1 415-555-0132",)))
    uk = ws.customers.add(Customer(name="Uk", whatsapp="+44 20 7946 0018"))
    ws.customers.add(Customer(name="Other", phones=("+1 212 555 0199",)))
    for query in ("415.555.0132", "(415) 555 0132", "+14155550132", "0132", "5550132"):
        assert names(ws.customers.search(query)) == ["Us"], query
    assert names(ws.customers.search("020 7946 0018")) == ["Uk"]  # national form, trunk zero
    with pytest.raises(InvalidValue, match="at least 4 digits"):
        ws.customers.search("013")
    assert {c.id for c in ws.customers.search("0018")} == {uk.id}
    assert us.id not in {c.id for c in ws.customers.search("0199")}


def test_emails_and_tags(ws: Workspace) -> None:
    ws.customers.add(Customer(name="Ada", emails=("Ada.Lovelace@Example.com",)))
    ws.customers.add(Customer(name="Bob", tags=("Wholesale",)))
    assert names(ws.customers.search("ada.lovelace@example.com")) == ["Ada"]
    assert names(ws.customers.search("lovelace")) == ["Ada"]
    assert names(ws.customers.search("example")) == ["Ada"]
    assert names(ws.customers.search("whole")) == ["Bob"]


def test_ranked_best_first(ws: Workspace) -> None:
    ws.customers.add(Customer(name="Carla Tagged", tags=("green",)))
    ws.customers.add(Customer(name="Greenberg"))
    ws.customers.add(Customer(name="Green"))
    # Whole-word name match beats a name prefix, which beats a tag.
    assert names(ws.customers.search("green")) == ["Green", "Greenberg", "Carla Tagged"]


def test_search_follows_edits_and_where(ws: Workspace) -> None:
    customer = ws.customers.add(Customer(name="Old Name", tags=("a",)))
    ws.customers.edit(customer.id, name="New Name")
    assert ws.customers.search("old") == []
    assert names(ws.customers.search("new")) == ["New Name"]
    assert ws.customers.search("new", where='tags any ("b")') == []
    assert names(ws.customers.search("name", where='tags any ("a")', limit=1)) == ["New Name"]
    with pytest.raises(InvalidValue):
        ws.customers.search("   ")
    with pytest.raises(InvalidValue):
        ws.customers.search("!!!")


@given(customers(), st.data())
def test_a_word_of_a_name_always_finds_its_customer(
    customer: Customer, data: st.DataObject
) -> None:
    terms = search_terms(customer)
    name_words = words(customer.name)
    if not name_words:
        return
    word = data.draw(st.sampled_from(name_words))
    prefix = word[: data.draw(st.integers(1, len(word)))]
    query = parse_query(prefix) if not prefix.isdigit() else None
    if query is not None and query.parts[0][0] == TEXT:
        assert score(terms, query) is not None


@given(st.from_regex(r"\+?[0-9]{4,12}", fullmatch=True), st.integers(4, 12))
def test_any_suffix_of_a_phone_finds_it(number: str, length: int) -> None:
    digits = number.lstrip("+")
    suffix = digits[-min(length, len(digits)) :]
    if len(suffix.lstrip("0")) < 4 and suffix.startswith("0"):
        return
    terms = search_terms(Customer(name="x", phones=(number,)))
    query = parse_query(suffix)
    assert query.parts[0][0] == PHONE
    assert score(terms, query) is not None
    assert phone_key(number) is not None


def test_fold_removes_case_and_accents() -> None:
    assert fold("ÉCOLE Straße") == "ecole strasse"


def test_customers_added_in_bulk_are_found_like_those_added_one_by_one(
    ws: Workspace, tmp_path: Path
) -> None:
    # Imports write through the bulk insert: it must index the same terms.
    data = tmp_path / "people.csv"
    data.write_text(
        "name,email,phone,tags\nJosé Ñúñez,jn@example.org,+1 415 555 0132,vip\n"
        "Ann Smith,ann@example.com,,\n",
        encoding="utf-8",
    )
    ws.customers.import_file(data)
    assert names(ws.customers.search("nunez")) == ["José Ñúñez"]
    assert names(ws.customers.search("ann@example.com")) == ["Ann Smith"]
    assert names(ws.customers.search("0132")) == ["José Ñúñez"]
    assert names(ws.customers.search("vip")) == ["José Ñúñez"]


@given(st.text())
def test_phone_key_keeps_the_ascii_digits_reversed(text: str) -> None:
    digits = [char for char in text if char in "0123456789"]
    assert phone_key(text) == ("".join(reversed(digits)) or None)


def reference_terms(customer: Customer) -> list[tuple[str, str, int]]:
    """The index's definition, written plainly: every term with its highest weight."""
    best: dict[tuple[str, str], int] = {}
    found = [(TEXT, word, 4) for word in words(customer.name)]
    for email in customer.emails:
        found += [(EMAIL, fold(email), 3), *((EMAIL, word, 3) for word in words(email))]
    for tag in customer.tags:
        found += [(TEXT, fold(tag), 1), *((TEXT, word, 1) for word in words(tag))]
    for number in [*customer.phones, *([customer.whatsapp] if customer.whatsapp else [])]:
        digits = "".join(char for char in number if char in "0123456789")
        found.append((PHONE, digits[::-1], 4))
    for kind, text, weight in found:
        if text:
            best[(kind, text)] = max(weight, best.get((kind, text), 0))
    return sorted((kind, text, weight) for (kind, text), weight in best.items())


@given(customers())
def test_term_rows_are_every_term_with_its_highest_weight(customer: Customer) -> None:
    rows = term_rows(customer)
    assert rows == reference_terms(customer)
    assert rows == [(t.kind, t.text, t.weight) for t in search_terms(customer)]


QUERIES = st.one_of(texts(), st.sampled_from(["ada@example.com", "ada", "b_c", "x.org", "VIP"]))


def _query(text: str, *, contacts: bool = True) -> SearchQuery | None:
    try:
        return parse_query(text, contacts=contacts)
    except InvalidValue:
        return None


@given(customers(), QUERIES)
def test_email_terms_of_their_own_kind_change_no_score(customer: Customer, text: str) -> None:
    # As if names, emails and tags were one kind of term, each with its best weight.
    query = _query(text)
    if query is None:
        return
    best: dict[tuple[str, str], int] = {}
    for term in search_terms(customer):
        key = (TEXT if term.kind == EMAIL else term.kind, term.text)
        best[key] = max(term.weight, best.get(key, 0))
    one_kind = [Term(kind, word, weight) for (kind, word), weight in best.items()]
    assert score(search_terms(customer), query) == score(one_kind, query)


@given(customers(), QUERIES)
def test_a_search_without_contacts_scores_as_if_there_were_no_emails(
    customer: Customer, text: str
) -> None:
    query, plain = _query(text, contacts=False), _query(text)
    if query is None or plain is None or any(kind == PHONE for kind, _ in query.parts):
        return  # phone queries: the workspace refuses them to such an actor
    without = Customer(name=customer.name, tags=customer.tags, phones=customer.phones)
    assert score(search_terms(customer), query) == score(search_terms(without), plain)
