"""Rules: which customers belong to a flow.

One AST (``ast``), a text language (``parser`` and ``printer``) checked
against a field ``catalog``, evaluation in Python (``evaluate``), compilation
to SQL (``sql``) and ``explain``. docs/rules.md is the language reference.
"""

from pipeline_core.rules.ast import (
    MATCH_ALL,
    And,
    Compare,
    Has,
    InSet,
    MatchAll,
    Not,
    Or,
    Rule,
    SetTest,
    Today,
    Within,
    all_of,
    any_of,
)
from pipeline_core.rules.catalog import BUILTIN_FIELDS, Catalog
from pipeline_core.rules.dates import bind_dates
from pipeline_core.rules.evaluate import compile_predicate, matches
from pipeline_core.rules.explain import Explanation, explain
from pipeline_core.rules.parser import MAX_DEPTH, parse
from pipeline_core.rules.printer import to_text
from pipeline_core.rules.sql import POSTGRES, SQLITE, Compiled, Dialect, compile_sql

__all__ = [
    "BUILTIN_FIELDS",
    "MATCH_ALL",
    "MAX_DEPTH",
    "POSTGRES",
    "SQLITE",
    "And",
    "Catalog",
    "Compare",
    "Compiled",
    "Dialect",
    "Explanation",
    "Has",
    "InSet",
    "MatchAll",
    "Not",
    "Or",
    "Rule",
    "SetTest",
    "Today",
    "Within",
    "all_of",
    "any_of",
    "bind_dates",
    "compile_predicate",
    "compile_sql",
    "explain",
    "matches",
    "parse",
    "to_text",
]
