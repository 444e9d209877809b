"""Header synonyms: the column names other CRMs write, and the customer field each one feeds.

Each field lists its headers from the most specific to the least; when two
columns of one file claim the same single-valued field, the one whose header
comes first here wins and the other is kept in a custom field named after it
(``resolve`` in ``pipeline_core.importing.mapping``). The systems each header
comes from are documented in docs/import-export.md ("Header synonyms").

Headers are compared folded: lower case, everything but letters and digits
removed (``E-mail Address`` is ``emailaddress``). Shapes other systems build
from a field's name are undone first (``header_forms``): Pipedrive's ``Person -
Email - Work``, Google Contacts' ``E-mail 1 - Value``, Outlook's ``E-mail 2
Address``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

HEADERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("name", ("Full Name", "Contact Name", "Customer Name", "Client Name", "Name",
              "Display Name", "Customer", "Contact", "Client", "Contact Person")),
    ("first_name", ("First Name", "Given Name", "Forename", "FNAME")),
    ("middle_name", ("Middle Name", "Additional Name")),
    ("last_name", ("Last Name", "Family Name", "Surname", "LNAME")),
    ("company", ("Company Name", "Company", "Company / Account", "Account Name", "Organization Name",
                 "Organisation Name", "Organization", "Organisation", "Associated Company",
                 "Account", "Employer", "Related Company")),
    ("emails", ("Email", "Emails", "Email Address", "E-mail Address", "E-mail", "Mail",
                "Work Email", "Personal Email", "Secondary Email", "Email Addresses",
                "Other Email")),
    ("phones", ("Phone", "Phones", "Phone Number", "Mobile", "Mobile Phone",
                "Mobile Phone Number", "Business Phone", "Home Phone", "Work Phone",
                "Primary Phone", "Other Phone", "Company Main Phone", "Telephone", "Tel",
                "Cell", "Cell Phone", "Mobile Number", "Landline")),
    ("whatsapp", ("WhatsApp", "WhatsApp Number", "WA")),
    ("country", ("Country", "Country Code", "Country/Region", "Mailing Country",
                 "Business Country/Region", "Home Country/Region", "Billing Country",
                 "Address Country", "CC", "Nation")),
    ("status", ("Lead Status", "Status", "Deal Stage", "Stage", "Lead Stage",
                "Lifecycle Stage")),
    ("folder", ("Folder", "List", "Group", "Audience")),
    ("tags", ("Tags", "Tag", "Labels", "Label", "Categories", "Category")),
    ("source", ("Source", "Lead Source", "Original Source", "Origin", "Channel")),
    ("team", ("Team", "Sales Team")),
    ("workers", ("Workers", "Owner", "Owners", "Contact Owner", "Lead Owner", "Account Owner",
                 "Deal Owner", "HubSpot Owner", "Salesperson", "Sales Rep", "Assigned To",
                 "Assignee")),
    ("value", ("Value", "Deal Value", "Amount", "Deal Amount", "Deal Size",
               "Expected Revenue", "Annual Revenue")),
    ("currency", ("Currency", "Deal Currency")),
    ("order_id", ("Order ID", "Order", "Order Number")),
    ("lead_notes", ("Lead Notes", "Notes", "Note", "Description", "Internal Notes", "Comments",
                    "Comment")),
    ("next_follow_up", ("Next Follow Up", "Follow Up", "Follow Up Date", "Next Activity Date",
                        "Next Activity")),
    ("lost_reason", ("Lost Reason", "Closed Lost Reason", "Reason Lost")),
    ("created_at", ("Created At", "Create Date", "Created Date", "Created Time", "Created On",
                    "Created", "Lead Created Date", "Date Created", "Person Created",
                    "Add Time", "OPTIN_TIME")),
    ("converted_at", ("Converted At", "Converted Date", "Became a Customer Date",
                      "Conversion Date")),
    ("closed_at", ("Closed At", "Close Date", "Closed Date", "Closed On", "Date Closed",
                   "Won Time", "Lost Time")),
    ("last_contacted_at", ("Last Contacted At", "Last Contacted", "Last Activity Date",
                           "Last Activity Time", "Last Activity", "Last Contact Date")),
    ("outcome", ("Outcome", "Won/Lost")),
    ("id", ("ID",)),
    ("parent_id", ("Parent ID",)),
)  # fmt: skip
"""Each field's headers, most specific first."""

IGNORED_HEADERS = ("updated_at", "version", "merged_into")
"""Columns a pipeline_core export writes that an import does not take (the store decides them)."""

_FOLD = re.compile(r"[^0-9a-z]+")
_PREFIX = re.compile(r"^\s*(person|contact|lead|deal)\s*-\s*(.+)$", re.IGNORECASE)
_ORGANIZATION = re.compile(r"^\s*(organization|organisation|company)\s*\d*\s*-\s*(.+)$", re.I)
_SUFFIX = re.compile(
    r"^(.+?)\s*\d*\s*-\s*(value|work|home|mobile|other|main|personal|business|primary)\s*$",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^([a-z]+?)\d+([a-z]*)$")


def fold(header: str) -> str:
    """A header as compared: lower case, letters and digits only."""
    return _FOLD.sub("", header.lower())


@cache
def table() -> dict[str, tuple[str, int]]:
    """Folded header -> (field, rank): a lower rank is a more specific header of that field."""
    found: dict[str, tuple[str, int]] = {}
    for field, headers in HEADERS:
        for rank, header in enumerate(headers):
            found.setdefault(fold(header), (field, rank))
    return found


def header_forms(header: str) -> Iterator[str]:
    """``header`` and the plainer headers it is a shape of, most literal first."""
    text = header.strip()
    yield text
    organization = _ORGANIZATION.match(text)
    if organization:
        rest = fold(organization.group(2))
        yield "Company" if rest == "name" else f"Organization {organization.group(2)}"
    prefixed = _PREFIX.match(text)
    if prefixed:
        yield from header_forms(prefixed.group(2))
    suffixed = _SUFFIX.match(text)
    if suffixed:
        yield from header_forms(suffixed.group(1))
    numbered = _NUMBERED.match(fold(text))
    if numbered:
        yield numbered.group(1) + numbered.group(2)


def lookup(header: str) -> tuple[str, int] | None:
    """The field a header feeds by default and its rank, or None if unknown."""
    known = table()
    for form in header_forms(header):
        found = known.get(fold(form))
        if found is not None:
            return found
    return None
