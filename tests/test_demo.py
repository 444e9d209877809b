"""The demo works for any size: its customers never collide, and a refused demo leaves nothing."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, DuplicateCustomer, InvalidValue, NotFound, Workspace
from pipeline_core.cli import cli
from pipeline_core.domain.normalize import NormalizeOptions, customer_keys, normalize_phone
from pipeline_core.workspace import demo
from pipeline_core.workspace.demo import MAX_CUSTOMERS, create_demo, sample_customers


@settings(max_examples=25, deadline=None)
@given(count=st.integers(10, 500), seed=st.integers(0, 2**32))
def test_sample_customers_never_share_a_contact_and_every_phone_is_valid(
    count: int, seed: int
) -> None:
    customers = sample_customers(count, seed)
    keys = [key for c in customers for key in customer_keys(c, NormalizeOptions(), strict=True)]
    assert all(key.valid for key in keys)
    assert len(keys) == 2 * count  # one phone and one email each
    assert len(set(keys)) == len(keys)


def test_many_customers_still_never_collide() -> None:
    # 20,000 draws from the GB numbers alone used to collide after about a hundred.
    customers = sample_customers(20_000, seed=7)
    keys = [key for c in customers for key in customer_keys(c, NormalizeOptions())]
    assert len(set(keys)) == len(keys) == 40_000


@pytest.mark.parametrize(("country", "spell", "size"), demo._PHONES)
def test_every_number_a_country_can_spell_is_valid(
    country: str, spell: Callable[[int], str], size: int
) -> None:
    rng = random.Random(country)
    picks = {0, 1, 9_999, 10_000, size // 2, size - 1, *rng.sample(range(size), 300)}
    keys = {normalize_phone(spell(n), country) for n in picks}
    assert all(key.valid for key in keys), sorted(k.key for k in keys if not k.valid)[:5]
    assert len(keys) == len(picks)  # different numbers spell different E.164 numbers


@pytest.mark.parametrize("count", [10, 100, 500])
def test_the_demo_command_makes_every_customer_it_is_asked_for(tmp_path: Path, count: int) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    result = runner.invoke(cli, ["--store", url, "demo", "--customers", str(count)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Sales: {count} customer(s)"
    board = runner.invoke(cli, ["--store", url, "board", "Sales", "--format", "json"])
    assert sum(column["count"] for column in json.loads(board.output)["columns"]) == count


def test_a_refused_demo_leaves_nothing_behind() -> None:
    with Workspace.open("memory:") as ws:
        taken = sample_customers(100)[92]  # the demo's 93rd customer
        ws.customers.add(Customer(name="Already here", phones=taken.phones, country=taken.country))
        with pytest.raises(DuplicateCustomer, match="matches customer 1"):
            create_demo(ws, count=100)
        assert ws.customers.count() == 1  # none of the 92 before it stayed
        with pytest.raises(NotFound):
            ws.flows.get("Sales")


def test_the_demo_refuses_sizes_it_cannot_make() -> None:
    with pytest.raises(InvalidValue, match="0 to 1,000,000 customers, not -1"):
        sample_customers(-1)
    with pytest.raises(InvalidValue, match="not 1000001"):
        sample_customers(MAX_CUSTOMERS + 1)
    result = CliRunner().invoke(cli, ["--store", "memory:", "demo", "--customers", "-1"])
    assert result.exit_code == 2 and "-1 is not in the range 0<=x<=1000000" in result.output
