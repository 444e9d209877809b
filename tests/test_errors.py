"""Errors survive pickling (multiprocessing workers send them to their parent)."""

from __future__ import annotations

import pickle

import pytest

from pipeline_core import errors
from pipeline_core.customer import Customer


@pytest.mark.parametrize(
    "error",
    [
        errors.InvalidValue("bad"),
        errors.NotFound("no customer with id 1"),
        errors.TransitionNotAllowed("Lead", "Won", ["Prospect"]),
        errors.ConcurrencyError(7, 1, 2),
        errors.StaleDefinition("field 'x'", 1, 2),
        errors.DuplicateCustomer([Customer(id=3, name="Ada")], "phone matches customer 3"),
        errors.RuleSyntaxError("expected a value", "status =", 1, 9),
        errors.ImportRowError("in.csv", 4, "Email", "not an email"),
        errors.StoreError("gone"),
    ],
)
def test_errors_pickle_round_trip(error: errors.PipelineError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__
