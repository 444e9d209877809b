"""A phone's extension is the same line: duplicates match without it, records keep it (every backend)."""

from __future__ import annotations

import pytest

from pipeline_core import Customer, DuplicateCustomer, Workspace


def test_a_number_with_an_extension_duplicates_the_number_without(workspace: Workspace) -> None:
    workspace.init()
    desk = workspace.customers.add(Customer(name="Desk", phones=("+1 415 555 0132",)))
    with pytest.raises(DuplicateCustomer, match=r"\+14155550132 matches customer 1 \(Desk\)"):
        workspace.customers.add(Customer(name="Ext", phones=("+1 (415) 555-0132 ext. 99",)))
    # Two extensions of one number are one line too.
    ext = workspace.customers.add(
        Customer(name="Ext", phones=("+1 (415) 555-0132 ext. 99",)), on_duplicate="allow"
    )
    with pytest.raises(DuplicateCustomer):
        workspace.customers.add(Customer(name="Other", whatsapp="+1 415 555 0132 x7"))
    # The record keeps the extension as typed; the cluster is found by the shared key.
    assert workspace.customers.get(ext.id).phones == ("+1 (415) 555-0132 ext. 99",)
    (cluster,) = workspace.customers.dupes()
    assert cluster.customer_ids == (desk.id, ext.id)
    assert [key.key for key in cluster.keys] == ["+14155550132"]
    # A merge keeps both lines: the desk and its extension are different numbers to dial.
    merged = workspace.customers.merge(desk.id, [ext.id])
    assert merged.customer.phones == ("+1 415 555 0132", "+1 (415) 555-0132 ext. 99")
    assert workspace.customers.dupes() == []


def test_a_merge_spells_out_an_extension_read_in_another_region(workspace: Workspace) -> None:
    workspace.init()
    here = workspace.customers.add(Customer(name="Here", country="GB"))
    there = workspace.customers.add(
        Customer(name="There", country="US", phones=("(415) 555-0132 ext. 7",))
    )
    merged = workspace.customers.merge(here.id, [there.id])
    # Read in GB the national number would be another: written out, extension kept.
    assert merged.customer.phones == ("+1 415-555-0132 ext. 7",)
