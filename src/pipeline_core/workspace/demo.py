"""The demo workspace: the default machine, a Sales flow and realistic sample customers."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

from pipeline_core.customer import Customer
from pipeline_core.domain.flows import Column, FlowDefinition
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.workspace import duplicates, flows, statuses
from pipeline_core.workspace.customers import add
from pipeline_core.workspace.facade import Workspace
from pipeline_core.workspace.session import Session

_FIRST = (
    "Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken",
    "Frances", "Edsger", "Radia", "Tim", "Hedy", "Guido", "Sophie", "João", "Zoë", "Björn",
    "Chiara", "Mateus", "Aisha", "Kenji", "Priya",
)  # fmt: skip
_LAST = (
    "Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov",
    "Thompson", "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "van Rossum",
    "Wilson", "Silva", "Müller", "Peeters", "Rossi", "Okafor", "Tanaka", "Sharma",
)  # fmt: skip
_COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
_FOLDERS = ("New Leads", "Active Clients", "Partners")
_TAGS = ("VIP", "Commercial", "Residential", "Referral", "Newsletter", "Warranty")
_SOURCES = ("website", "google ads", "referral", "trade show", "cold call", "facebook")
# Each country's numbers: a format and how many distinct numbers it can spell (every
# one a valid number for phonenumbers; tests/test_demo.py checks a sample of them).
_PHONES: tuple[tuple[str, Callable[[int], str], int], ...] = (
    ("US", lambda n: f"+1 (415) {200 + n // 10_000:03d}-{n % 10_000:04d}", 800 * 10_000),
    ("GB", lambda n: f"020 7{n // 10_000:03d} {n % 10_000:04d}", 10**7),
    ("DE", lambda n: f"030 {n // 10_000:04d}{n % 10_000:04d}", 10**8),
    ("BR", lambda n: f"(11) 9{n // 10_000:04d}-{n % 10_000:04d}", 10**8),
)
MAX_CUSTOMERS = 1_000_000
"""The most customers the demo makes: far inside every country's numbers, so drawing
a number not yet used never takes more than a few tries."""
_STATUS_WEIGHTS = (("Lead", 16), ("Prospect", 12), ("Quoted", 8), ("Customer", 10), ("Inactive", 4))

SALES_COLUMNS = (
    Column("Lead", "Lead", "#64748b", 0),
    Column("Prospect", "Prospect", "#3b82f6", 1),
    Column("Quoted", "Quoted", "#f59e0b", 2),
    Column("Customer", "Customer", "#10b981", 3),
    Column("Inactive", "Inactive", "#ef4444", 4),
)


def sample_customers(count: int, seed: int = 2026) -> list[Customer]:
    """``count`` realistic customers, the same ones for the same seed.

    No two share a phone or an email, for any count up to ``MAX_CUSTOMERS``: the
    demo adds them with duplicates blocked, as a user would.
    """
    if not 0 <= count <= MAX_CUSTOMERS:
        raise InvalidValue(f"the demo makes 0 to {MAX_CUSTOMERS:,} customers, not {count}")
    rng = random.Random(seed)
    statuses = [s for s, weight in _STATUS_WEIGHTS for _ in range(weight)]
    used: set[tuple[str, int]] = set()
    customers = []
    for index in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company = rng.choice(_COMPANIES)
        country, spell, numbers = rng.choice(_PHONES)
        number = rng.randrange(numbers)
        while (country, number) in used:  # a number already given: draw again
            number = rng.randrange(numbers)
        used.add((country, number))
        # The index keeps addresses apart; names end in a letter, so "ann1" + "1" is
        # never "ann" + "11".
        email_user = f"{first}.{last}".lower().replace(" ", "")
        customers.append(
            Customer(
                name=f"{first} {last}",
                emails=[f"{email_user}{index}@{company.lower()}.example"],
                phones=[spell(number)],
                country=country,
                status=rng.choice(statuses),
                folder=rng.choice(_FOLDERS),
                tags=rng.sample(_TAGS, rng.randrange(3)),
                fields={"company": company},
                source=rng.choice(_SOURCES),
                value=Decimal(rng.randrange(5, 500) * 100),
                currency="USD",
            )
        )
    return customers


DEMO_REGION = "US"
"""The demo's default phone region (each sample customer has a country of its own)."""


def fill(s: Session, count: int = 50, seed: int = 2026) -> FlowDefinition:
    """The demo use case: the default machine, the Sales flow and ``count`` sample customers.

    One session, so one transaction: if anything is refused, nothing of the demo stays.
    """
    customers = sample_customers(count, seed)  # a bad count is refused before any write
    statuses.init(s, None if duplicates.settings(s).default_region else DEMO_REGION)
    try:
        flow = flows.get(s, "Sales")
    except NotFound:
        flow = flows.add(s, "Sales", columns=SALES_COLUMNS)
    for customer in customers:
        add(s, customer, on_duplicate="block")
    return flow


def create_demo(workspace: Workspace, count: int = 50, seed: int = 2026) -> FlowDefinition:
    """Fill a workspace with the Sales flow and ``count`` sample customers; return the flow.

    Customers are created directly in their sampled status, all in one transaction.
    """
    return workspace.run(fill, count, seed)
