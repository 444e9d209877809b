"""``linked_records()`` and ``record_tests()``: random linked records and rules that test them.

Kinds, states, channels, currencies, references and amounts come from small
pools, so that the rules and the records meet: ``has invoice where state =
"overdue"`` finds overdue invoices, totals land on both sides of their bounds.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from pipeline_core.domain.records import BUILTIN_KINDS, CHANNELS, FileRef, LinkedRecord
from pipeline_core.rules.ast import RecordCondition, RecordTest
from pipeline_core.testing.pools import moments

KINDS = ("invoice", "payment", "conversation", "order", "file", "appointment")
"""The kinds drawn: enough to meet, few enough that a customer holds several of one."""

REFS = ("R-1", "R-2", "R-3", "r-1")
CURRENCIES = ("EUR", "USD")
AMOUNTS = tuple(Decimal(v) for v in ("0", "1000", "999.9999", "500", "-1", "0.0001", "1000.5"))
"""Amounts around the bounds the rules compare with (exact to 1/10000)."""


@st.composite
def _record(draw: st.DrawFn, customer_ids: tuple[int, ...]) -> LinkedRecord:
    kind = draw(st.sampled_from(KINDS))
    amount = draw(st.none() | st.sampled_from(AMOUNTS))
    return LinkedRecord(
        customer_id=draw(st.sampled_from(customer_ids)),
        kind=kind,
        ref=draw(st.sampled_from(REFS)),
        state=draw(st.sampled_from(BUILTIN_KINDS[kind].states)),
        amount=amount,
        currency=None if amount is None else draw(st.sampled_from(CURRENCIES)),
        at=draw(st.none() | moments()),
        start=draw(st.none() | moments()),
        channel=draw(st.sampled_from(CHANNELS)) if kind == "conversation" else None,
        file=FileRef(uri="s3://bucket/key") if kind == "file" else None,
        created_at=draw(moments()),
    )


def linked_records(
    customer_ids: tuple[int, ...], *, max_size: int = 12
) -> st.SearchStrategy[list[LinkedRecord]]:
    """Records of the given customers, one per customer, kind and reference."""
    return st.lists(
        _record(customer_ids),
        max_size=max_size,
        unique_by=lambda r: (r.customer_id, r.kind, r.ref),
    )


def _conditions() -> st.SearchStrategy[RecordCondition]:
    text = st.one_of(
        st.builds(
            RecordCondition,
            st.just("state"),
            st.sampled_from(("=", "!=")),
            st.sampled_from(("overdue", "open", "received", "sent", "placed", "paid")),
        ),
        st.builds(
            RecordCondition,
            st.just("channel"),
            st.sampled_from(("=", "!=")),
            st.sampled_from(CHANNELS),
        ),
        st.builds(
            RecordCondition,
            st.just("currency"),
            st.sampled_from(("=", "!=")),
            st.sampled_from(CURRENCIES),
        ),
        st.builds(
            RecordCondition, st.just("ref"), st.sampled_from(("=", "!=")), st.sampled_from(REFS)
        ),
    )
    amount = st.builds(
        RecordCondition,
        st.just("amount"),
        st.sampled_from(("=", "!=", "<", "<=", ">", ">=")),
        st.sampled_from(AMOUNTS) | st.decimals(-2000, 2000, places=5),
    )
    return st.one_of(text, amount)


def record_tests() -> st.SearchStrategy[RecordTest]:
    """Linked-record tests of every form: has (with conditions), total, count, last."""
    kinds = st.sampled_from(KINDS)
    ops = st.sampled_from(("=", "!=", "<", "<=", ">", ">="))
    bounds = st.sampled_from((*AMOUNTS, Decimal(2), Decimal("1.5"), Decimal(10) ** 20))
    return st.one_of(
        st.builds(
            RecordTest, kinds, st.just("has"), st.lists(_conditions(), max_size=2).map(tuple)
        ),
        st.builds(
            RecordTest,
            kinds,
            st.just("total"),
            op=ops,
            value=bounds,
            currency=st.sampled_from(CURRENCIES),
        ),
        st.builds(RecordTest, kinds, st.just("count"), op=ops, value=bounds),
        st.builds(RecordTest, kinds, st.just("last"), days=st.integers(0, 60)),
        st.builds(RecordTest, kinds, st.just("next"), days=st.integers(0, 60)),
    )
