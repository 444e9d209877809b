"""Settings, status machines, flows and flow hides, shared by the SQL backends."""

from __future__ import annotations

import functools
import json
from datetime import datetime

from pipeline_core.domain.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.domain.duplicate_settings import normalize_options
from pipeline_core.domain.events import JSONValue
from pipeline_core.domain.flows import FlowDefinition, FlowEvent, FlowHide
from pipeline_core.domain.normalize import NormalizeOptions
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.storage.sql.base import SqlBackend


@functools.lru_cache(maxsize=32)
def machine_from_json(text: str) -> StatusMachine:
    """A status machine from its stored JSON text."""
    # Machines are read on every move and rarely change: structure each distinct text once.
    return converter.structure(json.loads(text), StatusMachine)


class SetupQueries(SqlBackend):
    """The SQL of a workspace's setup: settings, machines, flows and who is hidden from a flow."""

    _options: NormalizeOptions | None

    JSON_TEXT = ""
    """Appended to a JSON column to read it as text (PostgreSQL: ``::text``)."""

    # settings --------------------------------------------------------------------

    def get_setting(self, key: str) -> JSONValue | None:
        # What is kept is the stored form, not the value: callers get a fresh object.
        stored = self._cached(
            ("setting", key),
            lambda: self._scalar("SELECT value FROM settings WHERE key = ?", (key,)),
        )
        value: JSONValue | None = None if stored is None else self._json_in(stored)
        return value

    def put_setting(self, key: str, value: JSONValue) -> None:
        self._forget(("setting", key))
        self._db.execute(
            self._sql(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            (key, self._json_out(value)),
        )
        self._options = None  # the duplicate settings may have changed

    def _normalize_options(self) -> NormalizeOptions:
        if self._options is None:
            self._options = normalize_options(self.get_setting(DUPLICATES_KEY))
        return self._options

    # status machines -------------------------------------------------------------

    def get_status_machine(self, name: str = "default") -> StatusMachine | None:
        machine: StatusMachine | None = self._cached(
            ("machine", name), lambda: self._load_machine(name)
        )
        return machine

    def _load_machine(self, name: str) -> StatusMachine | None:
        text = self._scalar(
            f"SELECT definition{self.JSON_TEXT} FROM status_machines WHERE name = ?", (name,)
        )
        return None if text is None else machine_from_json(text)

    def put_status_machine(self, machine: StatusMachine) -> None:
        self._forget(("machine", machine.name))
        self._db.execute(
            self._sql(
                "INSERT INTO status_machines (name, definition) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition"
            ),
            (machine.name, self._json_out(converter.unstructure(machine))),
        )

    # flows -----------------------------------------------------------------------

    def get_flow(self, name: str) -> FlowDefinition:
        row = self._one("SELECT definition FROM flows WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no flow called {name!r}")
        return converter.structure(self._json_in(row[0]), FlowDefinition)

    def list_flows(self) -> list[FlowDefinition]:
        rows = self._rows("SELECT definition FROM flows ORDER BY name")
        return [converter.structure(self._json_in(row[0]), FlowDefinition) for row in rows]

    def put_flow(self, flow: FlowDefinition) -> None:
        self._db.execute(
            self._sql(
                "INSERT INTO flows (name, definition) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition"
            ),
            (flow.name, self._json_out(converter.unstructure(flow))),
        )

    def delete_flow(self, name: str) -> None:
        if self._db.execute(self._sql("DELETE FROM flows WHERE name = ?"), (name,)).rowcount == 0:
            raise NotFound(f"no flow called {name!r}")

    def _flow_id(self, name: str) -> int:
        flow_id: int | None = self._scalar("SELECT id FROM flows WHERE name = ?", (name,))
        if flow_id is None:
            raise NotFound(f"no flow called {name!r}")
        return flow_id

    # hides -----------------------------------------------------------------------

    def set_hidden(self, flow: str, customer_id: int, hidden: bool) -> bool:
        flow_id = self._flow_id(flow)
        self.get_customer(customer_id)
        if hidden:
            sql = (
                "INSERT INTO flow_hides (flow_id, customer_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
            )
        else:
            sql = "DELETE FROM flow_hides WHERE flow_id = ? AND customer_id = ?"
        changed: int = self._db.execute(self._sql(sql), (flow_id, customer_id)).rowcount
        return changed > 0

    def hidden_customers(self, flow: str) -> list[int]:
        flow_id = self._flow_id(flow)
        rows = self._rows(
            "SELECT customer_id FROM flow_hides WHERE flow_id = ? ORDER BY customer_id",
            (flow_id,),
        )
        return [row[0] for row in rows]

    def hidden_flows(self, customer_id: int) -> list[str]:
        rows = self._rows(
            "SELECT f.name FROM flow_hides h JOIN flows f ON f.id = h.flow_id"
            " WHERE h.customer_id = ? ORDER BY f.name",
            (customer_id,),
        )
        return [row[0] for row in rows]

    # the board: editable flows, recorded hides, a flow's history --------------------

    def rename_flow(self, name: str, flow: FlowDefinition) -> None:
        flow_id = self._flow_id(name)
        if flow.name != name and self._scalar("SELECT id FROM flows WHERE name = ?", (flow.name,)):
            raise InvalidValue(f"a flow called {flow.name!r} already exists")
        self._db.execute(
            self._sql("UPDATE flows SET name = ?, definition = ? WHERE id = ?"),
            (flow.name, self._json_out(converter.unstructure(flow)), flow_id),
        )

    def hide_from_flow(self, flow: str, customer_id: int, by: str, at: datetime) -> bool:
        flow_id = self._flow_id(flow)
        self.get_customer(customer_id)
        changed: int = self._db.execute(
            self._sql(
                "INSERT INTO flow_hides (flow_id, customer_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
            ),
            (flow_id, customer_id),
        ).rowcount
        if changed:
            self._db.execute(
                self._sql(
                    "INSERT INTO flow_hide_marks (flow_id, customer_id, hidden_by, hidden_at)"
                    " VALUES (?, ?, ?, ?)"
                ),
                (flow_id, customer_id, by, self._moment_out(at)),
            )
        return changed > 0

    def flow_hides(self, flow: str) -> list[FlowHide]:
        flow_id = self._flow_id(flow)
        rows = self._rows(
            "SELECT h.customer_id, m.hidden_by, m.hidden_at FROM flow_hides h"
            " LEFT JOIN flow_hide_marks m"
            " ON m.flow_id = h.flow_id AND m.customer_id = h.customer_id"
            " WHERE h.flow_id = ? ORDER BY h.customer_id",
            (flow_id,),
        )
        return [
            FlowHide(flow, row[0], row[1], None if row[2] is None else self._moment_in(row[2]))
            for row in rows
        ]

    def append_flow_event(self, event: FlowEvent) -> FlowEvent:
        event_id = self._insert_id(
            "INSERT INTO flow_events (flow_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)",
            (
                self._flow_id(event.flow),
                self._moment_out(event.at),
                event.actor,
                str(event.kind),
                self._json_out(dict(event.data)),
            ),
        )
        return FlowEvent(
            flow=event.flow,
            kind=event.kind,
            at=event.at,
            actor=event.actor,
            data=event.data,
            id=event_id,
        )

    def flow_events(self, flow: str) -> list[FlowEvent]:
        rows = self._rows(
            "SELECT id, at, actor, kind, data FROM flow_events WHERE flow_id = ? ORDER BY id",
            (self._flow_id(flow),),
        )
        return [
            FlowEvent(
                flow=flow,
                kind=row[3],
                at=self._moment_in(row[1]),
                actor=row[2],
                data=self._json_in(row[4]),
                id=row[0],
            )
            for row in rows
        ]
