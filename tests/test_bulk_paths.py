"""The import's bulk shortcuts give what the checked paths give (hypothesis).

Imports skip attrs' converters where the values were checked already (trusted
copies, unpickling), read a customer's attributes in one go to make its stored
row, and reuse the text-index column of a tag set seen before; each must agree
with the plain path it stands in for, for any customer.
"""

from __future__ import annotations

import gc
import json
import pickle
import threading
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import Customer
from pipeline_core.customer import trusted_replace
from pipeline_core.domain.collector import OLD_OBJECTS_SET_ASIDE, PAUSED
from pipeline_core.domain.normalize import ContactKey
from pipeline_core.domain.search import _add_values, _column, search_document
from pipeline_core.domain.serialization import dumps
from pipeline_core.storage.sql.common import STORED_ATTRIBUTES, customer_values, encode_attributes
from pipeline_core.testing import customers
from pipeline_core.workspace.import_engine import GC_YOUNG_THRESHOLD, _old_objects_set_aside

MOMENTS = st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_dumps_gives_the_compact_text_json_gives(value: Any) -> None:
    # ``dumps`` calls json's C encoder directly; the text must be json.dumps' own.
    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_dumps_refuses_what_json_cannot_encode_naming_its_type() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        dumps({"tags": {"VIP"}})


@given(customers())
def test_a_customer_unpickles_equal(customer: Customer) -> None:
    copy = pickle.loads(pickle.dumps(customer))
    assert copy == customer
    assert attrs.asdict(copy, recurse=False) == attrs.asdict(customer, recurse=False)


@given(customers(), st.integers(0, 10**6), MOMENTS, st.sampled_from(["Lead", "Won", ""]))
def test_a_trusted_copy_is_what_evolve_gives(
    customer: Customer, version: int, moment: datetime, status: str
) -> None:
    changes: dict[str, Any] = {
        "version": version,
        "created_at": moment,
        "status": status,
        "closed_at": None,
    }
    assert trusted_replace(customer, **changes) == attrs.evolve(customer, **changes)
    assert trusted_replace(customer) == customer


@given(customers())
def test_the_stored_row_is_each_attribute_encoded(customer: Customer) -> None:
    pairs = dict(encode_attributes(customer, STORED_ATTRIBUTES))
    expected = [pairs[name] for name in STORED_ATTRIBUTES]
    expected.append(None if customer.value is None else float(customer.value))
    assert customer_values(customer) == tuple(expected)


@given(customers(), customers())
def test_the_tags_column_is_made_from_the_tags_alone(first: Customer, second: Customer) -> None:
    # The second customer has the first one's tags: a repeated tag set, served from the cache.
    twin = attrs.evolve(second, tags=first.tags)
    terms: dict[str, int] = {}
    _add_values(terms, first.tags, 0)
    assert search_document(first)[2] == search_document(twin)[2] == _column(list(terms))


@given(st.sampled_from(["email", "phone"]), st.text(), st.booleans())
def test_a_contact_key_hashes_as_its_fields_after_pickling(
    kind: str, key: str, valid: bool
) -> None:
    made = ContactKey(kind, key, valid)  # type: ignore[arg-type]
    copy = pickle.loads(pickle.dumps(made))
    assert copy == made
    assert hash(copy) == hash(made) == hash(ContactKey(kind, key, valid))  # type: ignore[arg-type]
    assert {made: 1}[copy] == 1


def test_an_import_collects_young_garbage_less_often_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    with _old_objects_set_aside():
        assert gc.get_threshold()[0] >= GC_YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before


def test_overlapping_holders_from_threads_keep_the_collector_set_until_the_last_leaves() -> None:
    before = (gc.get_threshold(), gc.isenabled())
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, bool]] = []

    def early() -> None:
        with OLD_OBJECTS_SET_ASIDE.held(), PAUSED.held():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def late() -> None:
        first_in.wait(10)
        with OLD_OBJECTS_SET_ASIDE.held(), PAUSED.held():
            second_in.set()
            first_out.wait(10)
            # The early thread has left: the setting stays while this one runs.
            seen.append((gc.get_threshold()[0], gc.isenabled()))

    threads = [threading.Thread(target=early), threading.Thread(target=late)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen == [(max(before[0][0], GC_YOUNG_THRESHOLD), False)]
    assert (gc.get_threshold(), gc.isenabled()) == before


@given(
    st.lists(st.sampled_from(["ann.lee", "Bob", "carla", "Ann"]), max_size=4),
    st.lists(
        st.sampled_from(["Ann Lee", "ann.lee@x.org", "BOB", "bob smith", " x", ""]) | st.text()
    ),
)
def test_an_owner_remembered_matches_as_the_first_time(users: list[str], owners: list[str]) -> None:
    from pipeline_core.importing.mapping import Owners

    remembered = Owners(tuple(users))
    for owner in owners + owners:  # each text twice: the second answer comes from memory
        assert remembered.match(owner) == Owners(tuple(users)).match(owner)
