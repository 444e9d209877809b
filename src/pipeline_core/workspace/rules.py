"""Use cases of rules: check a rule against the workspace's fields, compile it, saved filters.

A rule may be given as an AST, as rule text, or as the name of a saved filter
the actor may use (docs/access.md).
"""

from __future__ import annotations

from typing import Any

from pipeline_core.domain.saved_filters import SETTINGS_KEY as FILTERS_KEY
from pipeline_core.domain.saved_filters import SavedFilter, filter_name
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import InvalidValue, NotFound, RuleSyntaxError
from pipeline_core.rules.ast import Rule, fields_of, is_custom
from pipeline_core.rules.catalog import BUILTIN_RECORD_KINDS, DEFAULT_CATALOG, Catalog
from pipeline_core.rules.dates import bind_dates
from pipeline_core.rules.parser import parse
from pipeline_core.rules.printer import to_text
from pipeline_core.rules.sql import Compiled, Dialect, compile_sql
from pipeline_core.workspace.definitions import defined_kinds, field_definitions, rules_today
from pipeline_core.workspace.permissions import check_contact_rule
from pipeline_core.workspace.session import Session

RuleLike = Rule | str
"""A rule as an AST, as rule text (see docs/rules.md) or as a saved filter's name."""


def catalog(s: Session) -> Catalog:
    """The fields rules may name here: the built-ins, the defined custom fields and the
    custom fields customers hold, each with the kinds of value it may hold."""
    kinds = {key: set(found) for key, found in s.custom_field_kinds().items()}
    for key, definition in field_definitions(s).items():
        kinds.setdefault(key, set()).add(definition.type)
    return Catalog(custom=kinds, record_kinds=[*BUILTIN_RECORD_KINDS, *defined_kinds(s)])


def checked(s: Session, rule: RuleLike) -> Rule:
    """Parse and type-check a rule of the actor's against this workspace's fields.

    ``RuleSyntaxError`` names the position, what was expected and a near miss.
    ``PermissionDenied`` if the rule tests contact data hidden from the actor
    (a flow's rule, written by an admin, is not checked again for its viewers).
    """
    if isinstance(rule, str):
        rule = saved_rule_text(s, rule)
    text = rule if isinstance(rule, str) else to_text(rule)
    try:
        parsed = parse(text, DEFAULT_CATALOG)
    except RuleSyntaxError:
        if not defined_kinds(s):
            raise
        # It may test a kind of record this workspace defined: the full catalog knows it.
        parsed = parse(text, catalog(s))
    fields = fields_of(parsed)
    if any(is_custom(field) for field in fields):
        # Only rules naming custom fields need the store's knowledge of them.
        parsed = parse(text, catalog(s))
    check_contact_rule(s, fields)
    return parsed


def bound(s: Session, rule: RuleLike) -> Rule:
    """A checked rule with its relative dates bound to today."""
    return bind_dates(checked(s, rule), rules_today(s), s.now())


def sql(s: Session, rule: RuleLike, dialect: Dialect) -> Compiled:
    """The SQL condition and parameters a SQL store filters ``rule`` with, as of today."""
    return compile_sql(checked(s, rule), dialect, today=rules_today(s), now=s.now())


# saved filters: the stored list ----------------------------------------------------------


def stored_filters(s: Session) -> list[SavedFilter]:
    """Every saved filter, of every owner."""
    data: Any = s.get_setting(FILTERS_KEY) or []
    return [converter.structure(item, SavedFilter) for item in data]


def put_filters(s: Session, filters: list[SavedFilter]) -> None:
    """Store the saved filters."""
    ordered = sorted(filters, key=lambda f: (f.name, f.owner))
    s.put_setting(FILTERS_KEY, [converter.unstructure(f) for f in ordered])


def find_filter(s: Session, name: str) -> SavedFilter:
    """The saved filter the actor gets under ``name`` (their own before a shared one)."""
    usable = [f for f in stored_filters(s) if f.name == name and f.visible_to(s.principal.name)]
    if not usable:
        raise NotFound(f"no saved filter called {name!r}")
    return min(usable, key=lambda f: f.owner != s.principal.name)


def saved_rule_text(s: Session, text: str) -> str:
    """The rule of the saved filter called ``text``, or ``text`` itself if there is none."""
    try:
        name = filter_name(text.strip())
    except InvalidValue:
        return text
    if not s.get_setting(FILTERS_KEY):
        return text
    try:
        return find_filter(s, name).rule
    except NotFound:
        return text
