"""Rules: which customers belong to a flow, as one AST evaluated in Python and compiled to SQL."""

from pipeline_core.rules.ast import (
    MATCH_ALL,
    And,
    InSet,
    MatchAll,
    Not,
    Or,
    Rule,
    SetTest,
    all_of,
    any_of,
)
from pipeline_core.rules.evaluate import compile_predicate, matches

__all__ = [
    "MATCH_ALL",
    "And",
    "InSet",
    "MatchAll",
    "Not",
    "Or",
    "Rule",
    "SetTest",
    "all_of",
    "any_of",
    "compile_predicate",
    "matches",
]
