"""The SQLite schema as numbered forward migrations; a store records the version it is at."""

from __future__ import annotations

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            folder TEXT,
            source TEXT,
            team TEXT,
            country TEXT,
            whatsapp TEXT,
            parent_id INTEGER REFERENCES customers(id),
            value TEXT,
            value_num REAL,
            currency TEXT,
            outcome TEXT,
            order_id TEXT,
            lead_notes TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            converted_at TEXT,
            last_contacted_at TEXT,
            next_follow_up TEXT,
            version INTEGER NOT NULL,
            emails TEXT NOT NULL DEFAULT '[]',
            phones TEXT NOT NULL DEFAULT '[]',
            tags TEXT NOT NULL DEFAULT '[]',
            workers TEXT NOT NULL DEFAULT '[]',
            fields TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX customers_status ON customers(status)",
        "CREATE INDEX customers_folder_status ON customers(folder, status)",
        "CREATE INDEX customers_activity ON customers(updated_at, id)",
        # Rules' date tests are ranges: "created within 7 days" (and migration 3 indexes
        # next_follow_up for "next_follow_up before today").
        "CREATE INDEX customers_created ON customers(created_at)",
        """CREATE TABLE customer_tags (
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (customer_id, tag)
        ) WITHOUT ROWID""",
        "CREATE INDEX customer_tags_tag ON customer_tags(tag, customer_id)",
        """CREATE TABLE customer_fields (
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            kind TEXT NOT NULL,
            text_value TEXT,
            num_value REAL,
            PRIMARY KEY (customer_id, key)
        ) WITHOUT ROWID""",
        # Rules test a custom field's key, the kind of its value, then the value; the
        # (key, kind) prefix also lists the kinds each key holds, for type checks.
        "CREATE INDEX customer_fields_text ON customer_fields(key, kind, text_value)",
        "CREATE INDEX customer_fields_num ON customer_fields(key, kind, num_value)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX events_customer ON events(customer_id, id)",
        "CREATE TABLE status_machines (name TEXT PRIMARY KEY, definition TEXT NOT NULL)",
        """CREATE TABLE flows (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            definition TEXT NOT NULL
        )""",
        """CREATE TABLE flow_hides (
            flow_id INTEGER NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            PRIMARY KEY (flow_id, customer_id)
        ) WITHOUT ROWID""",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # Duplicates: normalized contact keys, tombstones of merged customers, and the
    # index a merge needs to find a customer's flow hides without a scan (parent_id
    # has its index from migration 3). The store fills in the keys of older customers.
    2: (
        """CREATE TABLE contact_keys (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            PRIMARY KEY (kind, key, customer_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX contact_keys_customer ON contact_keys(customer_id)",
        "ALTER TABLE customers ADD COLUMN merged_into INTEGER REFERENCES customers(id)",
        "CREATE INDEX customers_merged_into ON customers(merged_into) WHERE merged_into IS NOT NULL",
        "CREATE INDEX flow_hides_customer ON flow_hides(customer_id)",
    ),
    3: (
        "ALTER TABLE customers ADD COLUMN closed_at TEXT",
        "ALTER TABLE customers ADD COLUMN lost_reason TEXT",
        "CREATE INDEX customers_follow_up ON customers(next_follow_up, id)"
        " WHERE next_follow_up IS NOT NULL",
        "CREATE INDEX customers_parent ON customers(parent_id, id) WHERE parent_id IS NOT NULL",
        """CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            worker TEXT,
            due TEXT,
            done_at TEXT,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX tasks_customer ON tasks(customer_id, due)",
        "CREATE INDEX tasks_worker ON tasks(worker, due)",
        """CREATE TABLE time_entries (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            worker TEXT NOT NULL,
            at TEXT NOT NULL,
            minutes INTEGER NOT NULL,
            note TEXT NOT NULL
        )""",
        "CREATE INDEX time_entries_customer ON time_entries(customer_id, at)",
        "CREATE INDEX time_entries_worker ON time_entries(worker, at)",
    ),
    4: (),  # reserved for another branch
    5: (
        "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL)",
        "CREATE TABLE teams (name TEXT PRIMARY KEY)",
        """CREATE TABLE team_members (
            user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            team TEXT NOT NULL REFERENCES teams(name),
            PRIMARY KEY (user_name, team)
        ) WITHOUT ROWID""",
        # Visibility scopes test the team: "team in (...)".
        "CREATE INDEX customers_team ON customers(team, id) WHERE team IS NOT NULL",
        # Quick search seeks a prefix range of (kind, term); see pipeline_core.domain.search.
        """CREATE TABLE search_terms (
            kind TEXT NOT NULL,
            term TEXT NOT NULL,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            weight INTEGER NOT NULL,
            PRIMARY KEY (kind, term, customer_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX search_terms_customer ON search_terms(customer_id)",
    ),
    # No new tables: search terms are transliterated (pipeline_core.domain.folding) and
    # the words of emails get a term kind of their own, and phone keys lose their
    # extension; the store recomputes both (SEARCH_VERSION, CONTACT_KEYS_CHANGED).
    6: (),
    # The board (each statement may run again: IF NOT EXISTS): who hid a card from a flow and when; a flow's own history (renames,
    # rule and column edits: the events table is per customer); and indexes over live
    # customers only (a merged tombstone is on no board) that cover a column's count,
    # its deal values and its newest cards, the flow's folder test first.
    7: (
        """CREATE TABLE IF NOT EXISTS flow_hide_marks (
            flow_id INTEGER NOT NULL,
            customer_id INTEGER NOT NULL,
            hidden_by TEXT NOT NULL,
            hidden_at TEXT NOT NULL,
            PRIMARY KEY (flow_id, customer_id),
            FOREIGN KEY (flow_id, customer_id)
                REFERENCES flow_hides(flow_id, customer_id) ON DELETE CASCADE
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS flow_events (
            id INTEGER PRIMARY KEY,
            flow_id INTEGER NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS flow_events_flow ON flow_events(flow_id, id)",
        # A column's cards walk (folder, status, updated_at, id) in order; its count
        # and values read currency and value_num; the Kanban filters test created_at
        # and source: all from the index, no table row read. merged_into is a column
        # too, though always NULL here: SQLite reads an index alone only when it
        # holds every column the query names, the partial index's filter included.
        "CREATE INDEX IF NOT EXISTS customers_live_board ON customers"
        "(folder, status, updated_at, id, currency, value_num, created_at, source, merged_into)"
        " WHERE merged_into IS NULL",
        "CREATE INDEX IF NOT EXISTS customers_live_status ON customers"
        "(status, updated_at, id, currency, value_num, created_at, source, merged_into)"
        " WHERE merged_into IS NULL",
    ),
}
"""Statements that take a store from version N-1 to N."""

SEARCH_VERSION = 6
"""The last version that changed the search terms (5 added them; 6 transliterated them
and gave emails a kind of their own): a store migrating from before it indexes its
customers again."""

LATEST = max(MIGRATIONS)

CONTACT_KEYS_CHANGED = 6
"""The last version that changed contact keys (2 added them; 6 dropped phone extensions):
a store migrating across it recomputes them."""
