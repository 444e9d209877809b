"""The Workspace's bulk use cases: import customers from a file, export them, mapping profiles.

The work is in ``pipeline_core.importing``; see docs/import-export.md.
"""

from __future__ import annotations

import abc
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.domain.duplicate_settings import duplicate_settings
from pipeline_core.domain.events import JSONValue
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.importing.checks import RowChecks
from pipeline_core.importing.export import (
    DEFAULT_COLUMNS,
    ExportFormat,
    ExportWriter,
    check_columns,
)
from pipeline_core.importing.mapping import parse_map
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.storage import Transaction
from pipeline_core.workspace.base import WorkspaceBase
from pipeline_core.workspace.import_engine import (
    ImportHooks,
    ImportOptions,
    ImportSummary,
    run_import,
)

PROFILES_KEY = "import_profiles"
"""Workspace setting: saved mapping profiles by name."""

EXPORT_PAGE = 1000


class ImportMixin(WorkspaceBase):
    """Bulk import and export, mixed into ``Workspace``."""

    @abc.abstractmethod
    def _save_changes(self, tx: Transaction, before: Customer, after: Customer) -> Customer:
        """Store an edited customer with its edit events."""

    @abc.abstractmethod
    def _bound(self, tx: Transaction, rule: Rule | str) -> Rule:
        """A rule (or rule text) checked and with its dates bound."""

    # import ---------------------------------------------------------------------------

    def import_customers(
        self,
        source: str | Path | IO[bytes],
        options: ImportOptions | None = None,
        *,
        profile: str | None = None,
        progress: Callable[[int], None] | None = None,
        name: str | None = None,
    ) -> ImportSummary:
        """Import customers from a file (a path, or a binary stream such as stdin).

        Each batch of rows is one transaction that also records, in the run ledger
        keyed by the file's SHA-256, the last line it committed: an interrupted import
        run again resumes after it. ``profile`` applies a saved mapping (``options``
        mapping entries win). ``progress`` is called with the rows of each batch.
        """
        if self._acting_user is not None:  # the system actor may; a user must be an admin
            with self._tx() as tx:
                # Rows may match, merge into or update customers of any team.
                self._require_admin(tx, "import customers")
        options = options or ImportOptions()
        if profile is not None:
            options = self._with_profile(options, profile)
        options = attrs.evolve(options, mapping=parse_map(dict(options.mapping)))
        if isinstance(source, str | Path):
            return run_import(Path(source), name or str(source), options, self._hooks(), progress)
        # A stream is spooled to a file first: it is hashed (so it resumes like a file)
        # and read twice (the checks, then the rows), in flat memory.
        with tempfile.TemporaryDirectory(prefix="pipeline-import-") as folder:
            spooled = Path(folder) / "stdin"
            with spooled.open("wb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
            return run_import(spooled, name or "<stdin>", options, self._hooks(), progress)

    def _hooks(self) -> ImportHooks:
        return ImportHooks(
            transaction=self._tx,
            options=lambda tx: duplicate_settings(tx.get_setting(DUPLICATES_KEY)).normalize_options,
            checks=self._row_checks,
            event=self._event,
            save_changes=self._save_changes,
            now=self.clock.now,
        )

    def _row_checks(self, tx: Transaction) -> RowChecks:
        """What ``add_customer`` checks, read once for a whole import."""
        return RowChecks(
            machine=self._machine(tx),
            folders=self._folders(tx),
            definitions=self._field_definitions(tx),
            lifecycle=self._lifecycle(tx),
        )

    # profiles -------------------------------------------------------------------------

    def save_import_profile(
        self,
        name: str,
        mapping: Mapping[str, str] | Sequence[str],
        *,
        keep_unknown: bool = False,
        region: str | None = None,
    ) -> dict[str, JSONValue]:
        """Save a named mapping (``Header=field`` pairs) to reuse with ``profile=``."""
        if not name.strip():
            raise InvalidValue("a mapping profile needs a name")
        checked = parse_map(mapping if isinstance(mapping, Mapping) else list(mapping))
        entry: dict[str, JSONValue] = {
            "map": dict[str, JSONValue](checked),
            "keep_unknown": keep_unknown,
            "region": region,
        }
        with self._tx() as tx:
            profiles = dict(_profiles(tx))
            profiles[name.strip()] = entry
            tx.put_setting(PROFILES_KEY, dict(sorted(profiles.items())))
        return entry

    def import_profiles(self) -> dict[str, dict[str, JSONValue]]:
        """Every saved mapping profile by name."""
        with self._tx() as tx:
            return _profiles(tx)

    def _with_profile(self, options: ImportOptions, name: str) -> ImportOptions:
        profiles = self.import_profiles()
        if name not in profiles:
            known = ", ".join(profiles) or "none saved"
            raise NotFound(f"no import profile called {name!r}; known: {known}")
        saved = profiles[name]
        mapping = saved.get("map")
        merged = {**(mapping if isinstance(mapping, dict) else {}), **options.mapping}
        region = saved.get("region")
        return attrs.evolve(
            options,
            mapping={k: str(v) for k, v in merged.items()},
            keep_unknown=options.keep_unknown or saved.get("keep_unknown") is True,
            region=options.region or (region if isinstance(region, str) else None),
        )

    # export ---------------------------------------------------------------------------

    def export_customers(
        self,
        out: IO[Any],
        format: ExportFormat = "csv",
        *,
        where: Rule | str = MATCH_ALL,
        columns: Sequence[str] | None = None,
    ) -> int:
        """Write customers satisfying ``where`` to ``out``, oldest first; returns how many.

        ``columns`` default to the usual attributes plus every custom field
        (``fields.KEY``). Read a page at a time by id, so memory stays flat.
        Text formats need a text stream; xlsx a binary one.
        """
        with self._tx() as tx:
            rule = self._bound(tx, where)
            if columns is None:
                keys = set(tx.custom_field_kinds()) | set(self._field_definitions(tx))
                columns = [*DEFAULT_COLUMNS, *(f"fields.{key}" for key in sorted(keys))]
        writer = ExportWriter(out, format, check_columns(columns))
        after = 0
        while True:
            with self._tx() as tx:
                page = tx.find_customers(rule, limit=EXPORT_PAGE, after_id=after)
                shown = self._shown_all(tx, page)  # contact data masked for agents
            if not page:
                break
            writer.write(shown)
            after = page[-1].id
        writer.close()
        return writer.count


def _profiles(tx: Transaction) -> dict[str, dict[str, JSONValue]]:
    data = tx.get_setting(PROFILES_KEY)
    if not isinstance(data, dict):
        return {}
    return {name: value for name, value in data.items() if isinstance(value, dict)}
