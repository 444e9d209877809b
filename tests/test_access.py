"""Users, teams and visibility on every backend: the permission cases of well-known CRMs."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from pipeline_core import (
    Customer,
    DuplicateCustomer,
    FixedClock,
    InvalidValue,
    NotFound,
    PermissionDenied,
    Workspace,
)
from pipeline_core.domain.flows import Column

from .conftest import StoreFactory


@pytest.fixture
def admin(make_store: StoreFactory, clock: FixedClock) -> Workspace:
    """A workspace (as the system actor) with teams North, South, East and four users.

    ann: agent in North and South; bea: agent in South; max: manager of North;
    ada: admin.
    """
    ws = Workspace(make_store(), clock=clock)
    ws.init()
    for team in ("North", "South", "East"):
        ws.teams.add(team)
    ws.users.add("ann", "agent", ["North", "South"])
    ws.users.add("bea", "agent", ["South"])
    ws.users.add("max", "manager", ["North"])
    ws.users.add("ada", "admin")
    return ws


def as_user(admin: Workspace, name: str) -> Workspace:
    """The same store, acted on by ``name``."""
    return Workspace(admin.store, actor=name, clock=admin.clock)


def add(ws: Workspace, name: str, team: str | None, *workers: str, **more: object) -> Customer:
    return ws.customers.add(Customer(name=name, team=team, workers=workers, **more))  # type: ignore[arg-type]


def ids(customers: list[Customer]) -> list[int]:
    return [c.id for c in customers]


def test_an_agent_in_two_teams_sees_both_and_nothing_else(admin: Workspace) -> None:
    north = add(admin, "Nora", "North")
    south = add(admin, "Sam", "South")
    east = add(admin, "Eve", "East")
    ann = as_user(admin, "ann")
    assert ids(ann.customers.list()) == [north.id, south.id]
    assert ann.customers.count() == 2
    assert ann.customers.get(south.id).name == "Sam"
    with pytest.raises(NotFound, match=f"no customer with id {east.id}$"):
        ann.customers.get(east.id)
    bea = as_user(admin, "bea")
    assert ids(bea.customers.list()) == [south.id]


def test_outside_scope_is_exactly_like_not_existing(admin: Workspace) -> None:
    east = add(admin, "Eve", "East")
    ann = as_user(admin, "ann")
    messages = []
    for customer_id in (east.id, 999):
        with pytest.raises(NotFound) as raised:
            ann.customers.timeline(customer_id)
        messages.append(str(raised.value).replace(str(customer_id), "N"))
    assert messages[0] == messages[1]


def test_a_customer_moved_between_teams_changes_hands_at_once(admin: Workspace) -> None:
    customer = add(admin, "Mia", "South")
    bea, max_ = as_user(admin, "bea"), as_user(admin, "max")
    assert ids(bea.customers.list()) == [customer.id]
    assert max_.customers.list() == []
    admin.customers.edit(customer.id, team="North")
    assert bea.customers.list() == []
    assert ids(max_.customers.list()) == [customer.id]
    with pytest.raises(NotFound):
        bea.customers.get(customer.id)


def test_an_unassigned_customer_is_seen_by_admins_only(admin: Workspace) -> None:
    loose = add(admin, "Lou", None)
    for name in ("ann", "bea", "max"):
        assert as_user(admin, name).customers.list() == []
    assert ids(as_user(admin, "ada").customers.list()) == [loose.id]
    assert ids(admin.customers.list()) == [loose.id]


def test_a_worker_assigned_across_teams_sees_that_customer(admin: Workspace) -> None:
    customer = add(admin, "Nick", "North")
    bea = as_user(admin, "bea")
    assert bea.customers.list() == []
    admin.workers.assign(customer.id, "bea")
    assert ids(bea.customers.list()) == [customer.id]
    assert bea.customers.get(customer.id).workers == ("bea",)
    # A manager sees their teams' customers, not those merely assigned to them.
    other = add(admin, "Sid", "South", "max")
    assert other.id not in ids(as_user(admin, "max").customers.list())


def test_a_removed_membership_takes_effect_at_once(admin: Workspace) -> None:
    customer = add(admin, "Sue", "South")
    ann = as_user(admin, "ann")  # opened before the change, kept open
    assert ids(ann.customers.list()) == [customer.id]
    admin.teams.leave("South", "ann")
    assert ann.customers.list() == []
    with pytest.raises(NotFound):
        ann.customers.get(customer.id)
    admin.teams.join("South", "ann")
    assert ids(ann.customers.list()) == [customer.id]


def test_every_read_path_keeps_to_the_scope(admin: Workspace) -> None:
    admin.flows.add("Sales", "true", [Column("Lead", "Lead", "#000000", 0)])
    seen = add(admin, "Nora Visible", "North", tags=["vip"])
    hidden = add(admin, "Nora Hidden", "East", tags=["vip"])
    kid = add(admin, "Kid Hidden", "East", parent_id=seen.id)
    admin.customers.follow_up(seen.id, date(2026, 1, 1))
    admin.customers.follow_up(hidden.id, date(2026, 1, 1))
    admin.tasks.add(hidden.id, "secret", worker="ann")
    admin.time.log(hidden.id, "ann", 30)
    admin.workers.assign(hidden.id, "zed")
    admin.workers.assign(seen.id, "zed")
    ann = as_user(admin, "ann")
    assert ids(ann.customers.search("nora")) == [seen.id]
    assert ids(ann.customers.list('tags any ("vip")')) == [seen.id]
    board = ann.flows.board("Sales")
    assert board.columns[0].count == 1 and ids(list(board.columns[0].cards)) == [seen.id]
    assert ann.customers.children(seen.id) == []
    assert ann.customers.tree(seen.id).children == ()
    assert [r.customer_id for r in ann.reminders.due()] == [seen.id]
    assert ann.tasks.list(worker="ann") == []
    assert ann.time.list(worker="ann") == []
    assert ids(ann.workers.customers("zed")) == [seen.id]
    task_id = admin.tasks.list(customer_id=hidden.id)[0].id
    for read in (
        lambda: ann.customers.get(hidden.id),
        lambda: ann.flows.explain("Sales", hidden.id),
        lambda: ann.customers.timeline(hidden.id),
        lambda: ann.customers.show(hidden.id),
        lambda: ann.customers.children(hidden.id),
        lambda: ann.customers.tree(kid.id),
        lambda: ann.tasks.list(customer_id=hidden.id),
        lambda: ann.tasks.get(task_id),
        lambda: ann.time.list(customer_id=hidden.id),
    ):
        with pytest.raises(NotFound):
            read()
    # The admin sees all of it: the same calls return more.
    assert ids(admin.customers.search("nora")) == [seen.id, hidden.id]
    assert len(admin.reminders.due()) == 2


def test_a_visible_child_of_an_invisible_parent_shows_no_parent(admin: Workspace) -> None:
    parent = add(admin, "Pa", "East")
    child = add(admin, "Kid", "North", parent_id=parent.id)
    ann = as_user(admin, "ann")
    view = ann.customers.show(child.id)
    assert view.parent is None
    assert ann.customers.tree(child.id, from_root=True).customer.id == child.id


def test_agents_change_only_what_they_see_and_keep_it_in_their_teams(admin: Workspace) -> None:
    mine = add(admin, "Mine", "North")
    theirs = add(admin, "Theirs", "East")
    ann = as_user(admin, "ann")
    with pytest.raises(NotFound):
        ann.customers.edit(theirs.id, name="Stolen")
    with pytest.raises(NotFound):
        ann.customers.move(theirs.id, "Prospect")
    with pytest.raises(NotFound):
        ann.notes.add(theirs.id, "hello")
    with pytest.raises(PermissionDenied, match="team 'East'"):
        ann.customers.edit(mine.id, team="East")
    with pytest.raises(PermissionDenied):
        ann.customers.add(Customer(name="Elsewhere", team="East"))
    assert admin.customers.get(mine.id) == mine
    assert admin.customers.get(theirs.id) == theirs
    assert admin.customers.count() == 2
    moved = ann.customers.move(mine.id, "Prospect")
    assert moved.status == "Prospect"
    assert ann.customers.edit(mine.id, team="South").team == "South"
    # An agent may create a customer outside any team if they work on it themselves.
    assert ann.customers.add(Customer(name="Own", workers=("ann",))).workers == ("ann",)


def test_setup_is_for_admins(admin: Workspace) -> None:
    max_ = as_user(admin, "max")
    for attempt in (
        lambda: max_.teams.add("West"),
        lambda: max_.users.add("zoe", "agent"),
        lambda: max_.teams.join("East", "max"),
        lambda: max_.flows.add("Mine"),
        lambda: max_.folders.add("Secret"),
        lambda: max_.access.set(hide_contacts_from_agents=True),
        lambda: max_.settings.set(reminder_hour=7),
    ):
        with pytest.raises(PermissionDenied, match="admins only"):
            attempt()
    assert admin.teams.list() == ["East", "North", "South"]
    assert as_user(admin, "ada").teams.add("West") == "West"


def test_folder_permissions_refuse_and_change_nothing(admin: Workspace) -> None:
    admin.folders.add("Closed")
    admin.folders.access("Closed", enter=["manager", "admin"], leave=["admin"])
    customer = add(admin, "Cleo", "North")
    ann, max_ = as_user(admin, "ann"), as_user(admin, "max")
    with pytest.raises(PermissionDenied, match="into folder 'Closed'"):
        ann.customers.edit(customer.id, folder="Closed")
    with pytest.raises(PermissionDenied):
        ann.customers.folder(customer.id, "Closed")
    with pytest.raises(PermissionDenied):
        ann.customers.add(Customer(name="New", team="North", folder="Closed"))
    assert admin.customers.get(customer.id) == customer
    assert admin.customers.timeline(customer.id)[-1].kind.value == "created"
    assert max_.customers.folder(customer.id, "Closed").folder == "Closed"
    with pytest.raises(PermissionDenied, match="out of folder 'Closed'"):
        max_.customers.folder(customer.id, None)
    assert as_user(admin, "ada").customers.folder(customer.id, None).folder is None


def test_hidden_contacts_are_masked_for_agents_only(admin: Workspace) -> None:
    customer = add(
        admin, "Hal", "North", emails=("hal@x.org",), phones=("+14155550132",), whatsapp="+1415"
    )
    admin.access.set(hide_contacts_from_agents=True)
    ann = as_user(admin, "ann")
    for shown in (
        ann.customers.get(customer.id),
        ann.customers.list()[0],
        ann.customers.search("hal")[0],
        ann.customers.show(customer.id).customer,
    ):
        assert shown.emails == ("(hidden)",)
        assert shown.phones == ("(hidden)",)
        assert shown.whatsapp == "(hidden)"
    # Editing other fields keeps the real contact data; changing it is refused.
    ann.customers.edit(customer.id, name="Hal Two")
    assert admin.customers.get(customer.id).emails == ("hal@x.org",)
    with pytest.raises(PermissionDenied, match="contact data is hidden"):
        ann.customers.edit(customer.id, emails=("new@x.org",))
    assert as_user(admin, "max").customers.get(customer.id).emails == ("hal@x.org",)
    # An edit of contact data on the timeline does not give it away either.
    admin.customers.edit(customer.id, emails=("hal2@x.org",))
    edit = ann.customers.timeline(customer.id, ["edited"])[-1]
    assert (edit.data["field"], edit.data["before"], edit.data["after"]) == (
        "emails",
        "(hidden)",
        "(hidden)",
    )
    assert ann.customers.show(customer.id).recent_events[-1].data["after"] == "(hidden)"
    assert admin.customers.timeline(customer.id, ["edited"])[-1].data["after"] == ["hal2@x.org"]
    other = add(admin, "Hal Copy", "North", emails=("copy@x.org",))
    admin.customers.merge(customer.id, [other.id])
    merged = ann.customers.timeline(customer.id, ["merged"])[-1].data["merged"]
    assert isinstance(merged, list) and isinstance(merged[0], dict)
    assert merged[0]["emails"] == "(hidden)"
    assert "copy@x.org" in str(admin.customers.timeline(customer.id, ["merged"]))


def test_unknown_actor_is_a_clear_error(admin: Workspace) -> None:
    with pytest.raises(NotFound, match="unknown user 'nobody'"):
        as_user(admin, "nobody")
    with pytest.raises(InvalidValue, match="system actor"):
        admin.users.add("system", "admin")
    with pytest.raises(NotFound, match="no team called 'West'"):
        admin.users.add("zoe", "agent", ["West"])
    assert admin.whoami().name == "system"
    assert as_user(admin, "ann").whoami().user is not None


def test_a_manager_without_teams_sees_nothing(admin: Workspace) -> None:
    admin.users.add("mo", "manager")
    add(admin, "Anyone", "North", "mo")
    assert as_user(admin, "mo").customers.list() == []
    assert as_user(admin, "mo").customers.search("anyone") == []


def test_duplicate_checks_see_everyone_but_tell_agents_nothing(admin: Workspace) -> None:
    theirs = add(admin, "Secret Sam", "East", phones=("+1 415 555 0132",))
    mine = add(admin, "Mine", "North", emails=("me@x.org",))
    ann = as_user(admin, "ann")
    copy = Customer(name="Copy", team="North", phones=("+14155550132",))
    for policy in (None, "block", "merge", "update"):
        with pytest.raises(DuplicateCustomer) as refused:
            ann.customers.add(copy, on_duplicate=policy)
        assert refused.value.existing == ()
        assert "outside your teams" in str(refused.value)
        assert "Sam" not in str(refused.value) and str(theirs.id) not in str(refused.value)
    assert admin.customers.count() == 2
    both = Customer(name="Both", team="North", phones=("+14155550132",), emails=("me@x.org",))
    with pytest.raises(DuplicateCustomer) as refused:
        ann.customers.add(both)
    assert [c.id for c in refused.value.existing] == [mine.id]
    assert "Mine" in str(refused.value) and "Sam" not in str(refused.value)
    # Matches the agent may see are reported as for anyone.
    with pytest.raises(DuplicateCustomer) as refused:
        ann.customers.add(Customer(name="Again", team="North", emails=("ME@x.org",)))
    assert [c.id for c in refused.value.existing] == [mine.id]
    # An edit that would copy the hidden customer's phone is refused the same way.
    with pytest.raises(DuplicateCustomer, match="outside your teams"):
        ann.customers.edit(mine.id, phones=("+1 (415) 555-0132",))
    assert admin.customers.get(mine.id) == mine
    # Allowed duplicates are allowed, by anyone.
    assert ann.customers.add(copy, on_duplicate="allow").team == "North"
    # Clusters hold only what the actor sees.
    assert [c.customer_ids for c in admin.customers.dupes()] == [(theirs.id, 3)]
    assert ann.customers.dupes() == []
    admin.customers.edit(theirs.id, team="South")
    assert [c.customer_ids for c in ann.customers.dupes()] == [(theirs.id, 3)]
    assert as_user(admin, "max").customers.dupes() == []


def test_saved_filters_private_and_shared(admin: Workspace) -> None:
    vip = add(admin, "Vic", "North", tags=("VIP",))
    add(admin, "Pat", "North")
    max_, ann = as_user(admin, "max"), as_user(admin, "ann")
    max_.filters.save("vips", 'tags any ("VIP")')
    assert ids(max_.customers.list("vips")) == [vip.id]
    assert max_.customers.count("vips") == 1
    with pytest.raises(NotFound):
        ann.filters.get("vips")
    assert ann.filters.list() == []
    shared = admin.filters.save("north", 'team = "North"', shared=True)
    assert ann.filters.get("north") == shared
    assert len(ann.customers.list("north")) == 2
    with pytest.raises(PermissionDenied):
        ann.filters.delete("north")
    with pytest.raises(InvalidValue, match="already exists"):
        max_.filters.save("vips", "true")
    with pytest.raises(InvalidValue, match="rule language"):
        max_.filters.save("true", "true")
    with pytest.raises(InvalidValue):
        max_.filters.save("bad", "tags any (")
    max_.filters.delete("vips")
    with pytest.raises(NotFound):
        max_.filters.get("vips")
    admin.filters.delete("north")
    assert admin.filters.list() == []


def test_reports_count_only_what_the_actor_sees(admin: Workspace) -> None:
    admin.flows.add("Sales", "true", [Column("Lead", "Lead", "#000000", 0)])
    for name, team in (("A", "North"), ("B", "North"), ("C", "East"), ("D", None)):
        add(admin, name, team, value="10", currency="EUR")
    ann = as_user(admin, "ann")
    assert ann.reports.pipeline("Sales").total.count == 2
    assert admin.reports.pipeline("Sales").total.count == 4
    by_team = ann.reports.group("team")
    assert by_team.total.total == 2
    assert [row.label for row in by_team.rows] == ["North"]
    assert admin.reports.group("team").total.total == 4


def test_exports_hold_only_what_the_actor_sees_and_mask_contacts(admin: Workspace) -> None:
    add(admin, "Nora", "North", emails=("nora@x.org",))
    add(admin, "Eve", "East", emails=("eve@x.org",))
    out = io.StringIO()
    assert as_user(admin, "ann").customers.export(out, "jsonl") == 1
    assert "Nora" in out.getvalue() and "Eve" not in out.getvalue()
    assert "nora@x.org" in out.getvalue()
    admin.access.set(hide_contacts_from_agents=True)
    out = io.StringIO()
    as_user(admin, "ann").customers.export(out, "jsonl")
    assert "nora@x.org" not in out.getvalue() and "(hidden)" in out.getvalue()
    out = io.StringIO()
    assert admin.customers.export(out, "jsonl") == 2


def test_imports_are_for_admins(admin: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("name,team\nZed,East\n")
    with pytest.raises(PermissionDenied, match="import customers"):
        as_user(admin, "max").customers.import_file(source)
    assert admin.customers.count() == 0
    assert as_user(admin, "ada").customers.import_file(source).created == 1


def test_an_agent_moves_by_an_old_id_outside_their_teams_onto_the_primary_they_see(
    admin: Workspace,
) -> None:
    # The tombstone keeps its team (East, hidden from bea); its primary is in South.
    primary = add(admin, "Sam", "South")
    old = add(admin, "Sam East", "East")
    admin.customers.merge(primary.id, [old.id])
    east = add(admin, "Eve", "East")
    bea = as_user(admin, "bea")
    moved = bea.customers.move(old.id, "Prospect")
    assert (moved.id, moved.status) == (primary.id, "Prospect")
    with pytest.raises(NotFound, match=f"no customer with id {east.id}"):
        bea.customers.move(east.id, "Prospect")
    with pytest.raises(NotFound, match="no customer with id 999"):
        bea.customers.move(999, "Prospect")
    assert admin.customers.get(east.id).status == "Lead"
