"""``companies="parent"``: each imported person's company becomes (or finds) its parent customer.

A company is found by its exact name among the customers (the oldest one with
that name), or made once per run, in the batch that first names it, with a
``created`` event naming the run and line like any imported customer. The
person keeps the company in its ``company`` field too.
"""

from __future__ import annotations

import attrs

from pipeline_core.customer import Customer, trusted_replace
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.search import search_document
from pipeline_core.importing.checks import RowChecks
from pipeline_core.importing.mapping import COMPANY_FIELD, Draft, LeanDraft
from pipeline_core.rules.ast import InSet
from pipeline_core.storage.protocol import NewCustomer
from pipeline_core.workspace import customers
from pipeline_core.workspace.session import Session


@attrs.define
class Parents:
    """Company name -> customer id, found or made so far in one import run."""

    checks: RowChecks
    run_id: str
    file: str
    ids: dict[str, int] = attrs.Factory(dict)
    created: int = 0

    def linked(self, s: Session, drafts: list[Draft]) -> list[Draft]:
        """``drafts`` with ``parent_id`` set to their company's customer (made if missing)."""
        wanted: dict[str, int] = {}  # company -> the first line naming it
        for draft in drafts:
            company = _company(draft.customer)
            if company and company not in self.ids:
                wanted.setdefault(company, draft.line)
        if wanted:
            for found in s.find_customers(InSet("name", tuple(wanted))):
                self.ids.setdefault(found.name, found.id)
            self._make(s, [(name, line) for name, line in wanted.items() if name not in self.ids])
        return [self._with_parent(draft) for draft in drafts]

    def _make(self, s: Session, companies: list[tuple[str, int]]) -> None:
        if not companies:
            return
        now = s.now()
        made = [self.checks.prepare(Customer(name=name), now) for name, _ in companies]
        encode = s.row_encoder()
        # A company made from its name alone has no contacts: no keys to index.
        ids = s.insert_customers([NewCustomer(encode(c), (), search_document(c)) for c in made])
        s.append_events(
            [
                s.event(
                    customer_id,
                    EventKind.CREATED,
                    status=customer.status,
                    import_run=self.run_id,
                    line=line,
                    file=self.file,
                )
                for customer_id, customer, (_, line) in zip(ids, made, companies, strict=True)
            ]
        )
        self.ids.update(zip((name for name, _ in companies), ids, strict=True))
        self.created += len(ids)

    def _with_parent(self, draft: Draft) -> Draft:
        company = _company(draft.customer)
        if not company or company == draft.customer.name or draft.customer.parent_id:
            return draft
        customer = trusted_replace(draft.customer, parent_id=self.ids[company])
        return attrs.evolve(draft, customer=customer)


def _company(customer: Customer) -> str | None:
    value = customer.fields.get(COMPANY_FIELD)
    return value.strip() if isinstance(value, str) and value.strip() else None


@attrs.define
class FileLinks:
    """``parent_id`` cells of a file (its own ids, as an export writes them) made into links.

    Each inserted row with an ``id`` cell is remembered under it; a row whose
    ``parent_id`` names a remembered row gets that customer as its parent (an edit,
    with its event) at the end of the batch that makes the link possible, so a
    parent may come before or after its children. What a run never resolves is
    reported (``unresolved``). The ids are remembered for one run: a resumed
    import does not link to rows committed before the interruption.
    """

    ids: dict[str, int] = attrs.Factory(dict)
    waiting: list[tuple[int, str]] = attrs.Factory(list)  # (child id, the parent's file id)

    def inserted(self, s: Session, made: list[tuple[int, LeanDraft]]) -> None:
        """Remember the batch's new customers by file id, then link what can be linked."""
        for customer_id, draft in made:
            for kind, text in draft.notes:
                if kind == "id":
                    self.ids.setdefault(text, customer_id)
                elif kind == "parent_id":
                    self.waiting.append((customer_id, text))
        still: list[tuple[int, str]] = []
        for child, parent in self.waiting:
            if parent in self.ids:
                customers.edit(s, child, parent_id=self.ids[parent], on_duplicate="allow")
            else:
                still.append((child, parent))
        self.waiting = still

    def unresolved(self) -> tuple[str, ...]:
        """The parent ids no row of the file had."""
        return tuple(dict.fromkeys(parent for _, parent in self.waiting))
