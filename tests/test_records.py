"""Linked records through the library and the ``records`` commands: upserts, events, states,
orders from conversions, the profile's sections, the timeline filter, files in and out."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import AlreadyConverted, Customer, EventKind, FixedClock, InvalidValue, Workspace
from pipeline_core.cli import cli
from pipeline_core.domain.records import (
    BUILTIN_KINDS,
    FileRef,
    LinkedRecord,
    profile_records,
    totals_by_currency,
)
from pipeline_core.importing.records import cell_of_payload, payload_cell, record_from_row


def invoice(customer_id: int, ref: str = "INV-1", **changes: Any) -> LinkedRecord:
    fields: dict[str, Any] = {
        "customer_id": customer_id,
        "kind": "invoice",
        "ref": ref,
        "amount": "100.00",
        "currency": "EUR",
    }
    fields.update(changes)
    return LinkedRecord(**fields)


def test_a_record_is_upserted_by_its_reference_and_a_rerun_changes_nothing(
    workspace: Workspace, clock: FixedClock
) -> None:
    ada = workspace.customers.add(Customer(name="Ada"))
    first = workspace.records.add(invoice(ada.id))
    assert (first.state, first.created_at) == ("draft", clock.now())  # the kind's first state
    assert workspace.records.add(invoice(ada.id)) == first
    clock.advance(timedelta(hours=1))
    changed = workspace.records.add(invoice(ada.id, amount="120.00", state="open"))
    assert (changed.id, changed.amount, changed.state) == (first.id, Decimal("120.00"), "open")
    assert changed.created_at == first.created_at and changed.updated_at == clock.now()
    kept = workspace.records.add(invoice(ada.id, amount="120.00"))  # no state: keeps "open"
    assert kept == changed
    events = workspace.customers.timeline(ada.id, [EventKind.RECORD_ADDED, "record_changed"])
    assert [(e.kind, e.data["activity"]) for e in events] == [
        (EventKind.RECORD_ADDED, "invoice_draft"),
        (EventKind.RECORD_CHANGED, "invoice_open"),
    ]
    assert events[1].data["changed"] == ["state", "amount"]
    assert events[1].data["previous_state"] == "draft"


def test_states_come_from_the_kind_and_unknown_kinds_are_named(workspace: Workspace) -> None:
    ada = workspace.customers.add(Customer(name="Ada"))
    record = workspace.records.add(invoice(ada.id))
    with pytest.raises(InvalidValue, match="invoice state 'booked' is not one of draft, open"):
        workspace.records.set_state(record.id, "booked")
    assert workspace.records.set_state(record.id, "PAID").state == "paid"
    with pytest.raises(InvalidValue, match=r"unknown record kind 'parcel' \(known: order"):
        workspace.records.add(LinkedRecord(customer_id=ada.id, kind="parcel", ref="X"))
    parcel = workspace.records.define_kind("parcel", ["posted", "delivered"])
    assert workspace.records.kinds()[-1] == parcel
    sent = workspace.records.add(LinkedRecord(customer_id=ada.id, kind="parcel", ref="X"))
    assert sent.state == "posted"
    with pytest.raises(InvalidValue, match="built in"):
        workspace.records.define_kind("invoice", ["a"])


def test_record_values_are_checked_where_they_are_made() -> None:
    with pytest.raises(InvalidValue, match="needs a currency"):
        LinkedRecord(customer_id=1, kind="payment", ref="P", amount="5")
    with pytest.raises(InvalidValue, match="at most 4 decimal places"):
        LinkedRecord(customer_id=1, kind="payment", ref="P", amount="5.00001", currency="EUR")
    with pytest.raises(InvalidValue, match="ISO 4217"):
        LinkedRecord(customer_id=1, kind="payment", ref="P", amount="5", currency="EURO")
    with pytest.raises(InvalidValue, match="needs a channel"):
        LinkedRecord(customer_id=1, kind="conversation", ref="M")
    with pytest.raises(InvalidValue, match="needs a URI"):
        LinkedRecord(customer_id=1, kind="file", ref="F")
    with pytest.raises(InvalidValue, match="external reference"):
        LinkedRecord(customer_id=1, kind="order", ref="  ")
    with pytest.raises(InvalidValue, match="payload value 'x'"):
        LinkedRecord(customer_id=1, kind="order", ref="O", payload={"x": [1]})


def test_conversion_records_each_order_and_stamps_converted_at_once(
    workspace: Workspace, clock: FixedClock
) -> None:
    ada = workspace.customers.add(Customer(name="Ada"))
    converted = workspace.customers.convert(ada.id, "SO-1")
    clock.advance(timedelta(days=1))
    with pytest.raises(AlreadyConverted, match="the earlier ones stay"):
        workspace.customers.convert(ada.id, "SO-2")
    again = workspace.customers.convert(ada.id, "SO-2", force=True)
    workspace.customers.convert(ada.id, "SO-2", force=True)  # the same order: no second record
    assert again.order_id == "SO-2" and again.converted_at == converted.converted_at
    orders = workspace.records.list(ada.id, kinds=["order"])
    assert [(o.ref, o.state) for o in orders] == [("SO-1", "placed"), ("SO-2", "placed")]
    assert [o.ref for o in workspace.customers.show(ada.id).records.orders] == ["SO-2", "SO-1"]


def test_the_profile_gains_sections_of_linked_records(
    workspace: Workspace, clock: FixedClock
) -> None:
    ada = workspace.customers.add(Customer(name="Ada"))
    now = clock.now()
    workspace.records.upsert(
        [
            invoice(ada.id, "I-1", state="open", due=date(2026, 3, 1)),
            invoice(ada.id, "I-2", state="overdue", amount="50.5", due=date(2026, 1, 1)),
            invoice(ada.id, "I-3", state="paid"),
            invoice(ada.id, "I-4", state="open", amount="7", currency="USD"),
            LinkedRecord(
                customer_id=ada.id, kind="payment", ref="P-1", amount="10", currency="EUR"
            ),
            LinkedRecord(customer_id=ada.id, kind="payment", ref="P-2", amount="5", currency="EUR"),
            LinkedRecord(
                customer_id=ada.id,
                kind="payment",
                ref="P-3",
                amount="99",
                currency="EUR",
                state="failed",
            ),
            LinkedRecord(
                customer_id=ada.id, kind="appointment", ref="A-1", start=now + timedelta(days=2)
            ),
            LinkedRecord(
                customer_id=ada.id, kind="appointment", ref="A-0", start=now - timedelta(days=2)
            ),
            LinkedRecord(
                customer_id=ada.id,
                kind="appointment",
                ref="A-2",
                start=now + timedelta(days=1),
                state="cancelled",
            ),
            LinkedRecord(
                customer_id=ada.id,
                kind="conversation",
                ref="M-1",
                channel="email",
                at=now - timedelta(days=3),
            ),
            LinkedRecord(
                customer_id=ada.id,
                kind="conversation",
                ref="M-2",
                channel="email",
                at=now - timedelta(days=1),
            ),
            LinkedRecord(
                customer_id=ada.id, kind="conversation", ref="W-1", channel="whatsapp", at=now
            ),
            LinkedRecord(
                customer_id=ada.id, kind="file", ref="F-1", file=FileRef(uri="s3://b/f.pdf")
            ),
        ]
    )
    found = workspace.customers.show(ada.id).records
    assert [r.ref for r in found.open_invoices] == ["I-2", "I-1", "I-4"]
    assert found.open_invoice_totals == {"EUR": Decimal("150.50"), "USD": Decimal("7")}
    assert found.overdue_invoice_totals == {"EUR": Decimal("50.5")}
    assert found.payments_received == {"EUR": Decimal("15")}
    assert [r.ref for r in found.upcoming_appointments] == ["A-1"]
    assert {channel: r.ref for channel, r in found.latest_conversations.items()} == {
        "email": "M-2",
        "whatsapp": "W-1",
    }
    assert [r.ref for r in found.files] == ["F-1"]
    assert found.counts == {
        "appointment": 3,
        "conversation": 3,
        "file": 1,
        "invoice": 4,
        "payment": 3,
    }
    # The text profile shows the sections (checked through the same rendering).
    from pipeline_core.render.life import view_output

    text = view_output(workspace.customers.show(ada.id), "table")
    for title in ("Open invoices", "Upcoming appointments", "Latest conversations", "Files"):
        assert title in text
    assert "150.50 EUR, 7 USD" in text


def test_the_timeline_filters_by_event_and_record_kind(workspace: Workspace) -> None:
    ada = workspace.customers.add(Customer(name="Ada"))
    workspace.notes.add(ada.id, "hello")
    workspace.records.add(
        LinkedRecord(customer_id=ada.id, kind="payment", ref="P-1", amount="1", currency="EUR")
    )
    workspace.records.add(
        LinkedRecord(customer_id=ada.id, kind="conversation", ref="M-1", channel="sms")
    )
    workspace.records.add(invoice(ada.id))
    payments = workspace.customers.timeline(ada.id, ["payment", "conversation"])
    assert [e.data["ref"] for e in payments] == ["P-1", "M-1"]
    assert [e.kind for e in workspace.customers.timeline(ada.id, ["note", "invoice"])] == [
        EventKind.NOTE,
        EventKind.RECORD_ADDED,
    ]
    with pytest.raises(InvalidValue, match="unknown kind 'parcel'"):
        workspace.customers.timeline(ada.id, ["parcel"])


def test_automations_wait_for_record_activity(workspace: Workspace) -> None:
    from pipeline_core.domain.automation import Action, Automation

    workspace.automations.add(
        Automation(
            name="thanks",
            on=EventKind.RECORD_ADDED,
            activity="payment_received",
            actions=[Action(kind="add_tag", value="paid")],
        )
    )
    ada = workspace.customers.add(Customer(name="Ada"))
    workspace.records.add(invoice(ada.id))
    assert workspace.customers.get(ada.id).tags == ()
    workspace.records.add(
        LinkedRecord(customer_id=ada.id, kind="payment", ref="P-1", amount="1", currency="EUR")
    )
    assert workspace.customers.get(ada.id).tags == ("paid",)


# files in and out -------------------------------------------------------------------------


def _cli(store: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--store", store, *args])
    return result


def test_bulk_import_is_idempotent_and_reports_bad_rows(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'r.db'}"
    assert _cli(store, "init").exit_code == 0
    assert _cli(store, "customers", "add", "Ada").exit_code == 0
    source = tmp_path / "pay.csv"
    source.write_text(
        "customer_id,kind,ref,state,amount,currency,at,data.method,data.n\n"
        "1,payment,P-1,received,10.50,EUR,2026-01-01T10:00:00+00:00,card,3\n"
        '1,payment,P-2,,5,EUR,,"""7""",\n'
        "7,payment,P-3,,5,EUR,,,\n"
        "1,payment,P-4,lost,5,EUR,,,\n"
        "1,payment,P-5,,5,EURO,,,\n"
        "1,payment,P-6,,5,EUR,yesterday,,\n",
        "utf-8",
    )
    first = _cli(store, "records", "import", str(source), "--format", "json")
    assert first.exit_code == 1  # some rows were refused: said by the exit status
    summary = json.loads(first.stdout)
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (2, 0, 0)
    assert [(r["line"], r["column"]) for r in summary["rejected"]] == [
        (4, "customer_id"),
        (5, "state"),
        (6, "currency"),
        (7, "at"),
    ]
    again = json.loads(_cli(store, "records", "import", str(source), "--format", "json").stdout)
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 2)
    with Workspace.open(store) as ws:
        first_payment, second = ws.records.list(1)
        assert first_payment.payload == {"method": "card", "n": 3}
        assert second.payload == {"method": "7"}  # a quoted cell stays text
        timeline = ws.customers.timeline(1, ["payment"])
        assert len(timeline) == 2  # the re-run recorded nothing
    for to in ("csv", "jsonl"):
        exported = _cli(store, "records", "export", "--to", to)
        assert exported.exit_code == 0
        path = tmp_path / f"out.{to}"
        path.write_text(exported.stdout, "utf-8")
        back = json.loads(_cli(store, "records", "import", str(path), "--format", "json").stdout)
        assert (back["added"], back["updated"], back["unchanged"], back["rejected"]) == (
            0,
            0,
            2,
            [],
        )


def test_the_records_commands(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    assert _cli(store, "init").exit_code == 0
    assert _cli(store, "customers", "add", "Ada").exit_code == 0
    added = _cli(
        store, "records", "add", "1", "file", "F-1", "--uri", "s3://b/k.pdf", "--size", "12",
        "--media-type", "application/pdf", "--data", "pages=3", "--format", "json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    record = json.loads(added.stdout)
    assert record["file"] == {
        "uri": "s3://b/k.pdf",
        "media_type": "application/pdf",
        "size": 12,
        "checksum": None,
    }
    assert record["payload"] == {"pages": 3}
    moved = _cli(store, "records", "set-state", str(record["id"]), "deleted", "--format", "json")
    assert json.loads(moved.stdout)["state"] == "deleted"
    listed = _cli(store, "records", "list", "--kind", "file", "--state", "deleted")
    assert "F-1" in listed.stdout
    missing = _cli(store, "records", "show", "99")
    assert missing.exit_code == 1 and "no linked record with id 99" in missing.output
    bad = _cli(store, "records", "add", "1", "invoice", "I-1", "--amount", "x", "--currency", "EUR")
    assert bad.exit_code == 1 and "amount 'x' is not a number" in bad.output
    assert "Traceback" not in bad.output
    timeline = _cli(store, "customers", "timeline", "1", "--kind", "file", "--format", "json")
    assert [e["data"]["state"] for e in json.loads(timeline.stdout)] == ["active", "deleted"]


# properties ---------------------------------------------------------------------------------

amounts = st.decimals(
    min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=4, allow_nan=False
)
payload_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")).map(str.strip),
)


@given(payload_values)
def test_a_payload_value_survives_a_csv_cell(value: Any) -> None:
    assert payload_cell(cell_of_payload(value), from_text=True) == value


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(BUILTIN_KINDS["invoice"].states),
            amounts,
            st.sampled_from(["EUR", "USD"]),
        ),
        max_size=12,
    )
)
def test_profile_totals_add_up_what_the_records_hold(
    rows: list[tuple[str, Decimal, str]],
) -> None:
    records = [
        LinkedRecord(
            customer_id=1, kind="invoice", ref=f"I-{i}", state=s, amount=a, currency=c, id=i + 1
        )
        for i, (s, a, c) in enumerate(rows)
    ]
    from datetime import UTC, datetime

    found = profile_records(records, datetime(2026, 1, 1, tzinfo=UTC))
    open_ones = [r for r in records if r.state in ("open", "overdue")]
    assert sorted(r.id for r in found.open_invoices) == sorted(r.id for r in open_ones)
    for currency in ("EUR", "USD"):
        expected = sum((r.amount or 0 for r in open_ones if r.currency == currency), Decimal(0))
        assert found.open_invoice_totals.get(currency, Decimal(0)) == expected
    assert totals_by_currency(records) == {
        c: sum((r.amount or 0 for r in records if r.currency == c), Decimal(0))
        for c in sorted({r.currency for r in records if r.currency})
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=4,
)
columns = st.sampled_from(
    ["customer_id", "kind", "ref", "state", "amount", "currency", "at", "due", "start",
     "end", "channel", "address", "uri", "size", "media_type", "checksum", "data.x", "title"]
)  # fmt: skip


@given(st.dictionaries(columns, json_values | st.sampled_from(["1", "payment", "EUR", "sms"])))
def test_any_row_is_a_record_or_one_clear_row_error(values: dict[str, Any]) -> None:
    from pipeline_core import ImportRowError

    for from_text in (False, True):
        row = {
            k: v if not from_text or isinstance(v, str) else json.dumps(v)
            for k, v in values.items()
        }
        try:
            record = record_from_row(row, file="r.jsonl", line=7, from_text=from_text)
        except ImportRowError as error:
            assert str(error).startswith("r.jsonl, line 7")
        else:
            assert record.customer_id == int(str(values["customer_id"]).strip())


def test_unreadable_records_files_give_one_clear_error(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'f.db'}"
    assert _cli(store, "init").exit_code == 0
    assert _cli(store, "customers", "add", "Ada").exit_code == 0
    missing = _cli(store, "records", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "no such file" in missing.output
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\x02\xff" * 50)
    refused = _cli(store, "records", "import", str(binary))
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("customer_id,kind,ref\n1,order,SO-1,extra\n1,order,SO-2\n", "utf-8")
    result = _cli(store, "records", "import", str(ragged), "--format", "json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 1 and summary["added"] == 1
    assert [r["line"] for r in summary["rejected"]] == [2]
    lines = tmp_path / "bad.jsonl"
    lines.write_text(
        '{"customer_id": 1, "kind": "payment", "ref": "P", "amount": 12.5, "currency": "EUR"}\n'
        '{"customer_id": 1, "kind": "payment", "ref": "Q", "data.x": {"nested": 1}}\n'
        "not json\n",
        "utf-8",
    )
    result = _cli(store, "records", "import", str(lines), "--format", "json")
    summary = json.loads(result.stdout)
    assert summary["added"] == 1
    assert (summary["rejected"][0]["line"], summary["rejected"][0]["column"]) == (2, "data.x")
    assert [r["line"] for r in summary["rejected"]] == [2, 3]


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_any_records_read_back_as_written_in_record_order(backend: str) -> None:
    from pipeline_core.domain.records import record_order
    from pipeline_core.storage import open_store
    from pipeline_core.testing.records import linked_records

    from .conftest import fresh_store_url

    @settings(max_examples=25, deadline=None)
    @given(records=linked_records((1, 2, 3), max_size=10))
    def round_trip(records: list[LinkedRecord]) -> None:
        store = open_store(fresh_store_url(backend))
        try:
            with store.transaction() as tx:
                ids = [tx.insert_customer(Customer(name=f"C{i}")).id for i in range(3)]
                mine = [attrs.evolve(r, customer_id=ids[r.customer_id - 1]) for r in records]
                stored = tx.insert_records(mine)
            with store.transaction() as tx:
                assert tx.find_records() == sorted(stored, key=record_order)
                for record in stored:
                    assert tx.get_record(record.id) == record
                    assert tx.records_by_ref(record.kind, [record.ref]) == sorted(
                        (r for r in stored if (r.kind, r.ref) == (record.kind, record.ref)),
                        key=lambda r: r.id,
                    )
        finally:
            store.close()

    round_trip()
