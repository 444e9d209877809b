"""The demo workspace: the default machine, a Sales flow and realistic sample customers."""

from __future__ import annotations

import random
from decimal import Decimal

from pipeline_core.customer import Customer
from pipeline_core.domain.flows import Column, FlowDefinition
from pipeline_core.errors import NotFound
from pipeline_core.workspace.facade import Workspace

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
_PHONES = (
    ("US", "+1 (415) 555-{:04d}"),
    ("GB", "020 7946 {:04d}"),
    ("DE", "030 1234{:04d}"),
    ("BR", "(11) 9{:04d}-1234"),
)
_STATUS_WEIGHTS = (("Lead", 16), ("Prospect", 12), ("Quoted", 8), ("Customer", 10), ("Inactive", 4))

SALES_COLUMNS = (
    Column("Lead", "Lead", "#64748b", 0),
    Column("Prospect", "Prospect", "#3b82f6", 1),
    Column("Quoted", "Quoted", "#f59e0b", 2),
    Column("Customer", "Customer", "#10b981", 3),
    Column("Inactive", "Inactive", "#ef4444", 4),
)


def sample_customers(count: int, seed: int = 2026) -> list[Customer]:
    """``count`` realistic customers, the same ones for the same seed."""
    rng = random.Random(seed)
    statuses = [s for s, weight in _STATUS_WEIGHTS for _ in range(weight)]
    customers = []
    for index in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company = rng.choice(_COMPANIES)
        country, phone_format = rng.choice(_PHONES)
        email_user = f"{first}.{last}".lower().replace(" ", "")
        customers.append(
            Customer(
                name=f"{first} {last}",
                emails=[f"{email_user}{index}@{company.lower()}.example"],
                phones=[phone_format.format(rng.randrange(10000))],
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


def create_demo(workspace: Workspace, count: int = 50, seed: int = 2026) -> FlowDefinition:
    """Fill a workspace with the Sales flow and ``count`` sample customers; return the flow.

    Customers are created directly in their sampled status.
    """
    workspace.init()
    try:
        flow = workspace.flows.get("Sales")
    except NotFound:
        flow = workspace.flows.add("Sales", columns=SALES_COLUMNS)
    for customer in sample_customers(count, seed):
        workspace.customers.add(customer)
    return flow
