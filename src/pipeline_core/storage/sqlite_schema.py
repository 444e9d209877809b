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
    # The outbox (issue 17): reminders fired once (a key per reminder or task and due
    # day), deliveries written with the event that caused them and sent afterwards,
    # and in-app notifications. IF NOT EXISTS: a store whose recorded version was set
    # back (as tests of older migrations do) migrates again without failing.
    7: (
        "CREATE TABLE IF NOT EXISTS fired (key TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE IF NOT EXISTS deliveries (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            target TEXT NOT NULL,
            payload TEXT NOT NULL,
            automation TEXT NOT NULL,
            customer_id INTEGER NOT NULL,
            event_id INTEGER,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            lease_until TEXT,
            last_error TEXT NOT NULL,
            delivered_at TEXT
        )""",
        # A runner seeks the pending deliveries that are due, oldest first.
        "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(next_attempt_at, id)"
        " WHERE state = 'pending'",
        "CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state, id)",
        """CREATE TABLE IF NOT EXISTS notifications (
            id INTEGER PRIMARY KEY,
            recipient TEXT NOT NULL,
            message TEXT NOT NULL,
            customer_id INTEGER NOT NULL,
            automation TEXT NOT NULL,
            event_id INTEGER,
            created_at TEXT NOT NULL,
            read_at TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS notifications_recipient ON notifications(recipient, id)",
    ),
    # Quick search moves to FTS5: one row per customer (rowid = customer id) instead
    # of about nine term rows; the store fills it from the customers (SEARCH_VERSION).
    # Tokens are the terms of pipeline_core.domain.search, folded and escaped in
    # Python, so unicode61 only splits them at spaces (no diacritics of its own to
    # remove). detail=column keeps column filters and prefix queries, not positions.
    8: (
        "DROP TABLE IF EXISTS search_terms",
        "CREATE VIRTUAL TABLE IF NOT EXISTS search_index USING fts5(names, emails, tags, phones,"
        " tokenize = 'unicode61 remove_diacritics 0', detail = column, columnsize = 0)",
    ),
    # No new tables: email keys come from email-validator (IDNA 2008 / UTS-46: straße.de is
    # not strasse.de) and a 00 number is read in its region first (JP 0066...); the store
    # recomputes every contact key (CONTACT_KEYS_CHANGED).
    9: (),
    # Linked records (pipeline_core.domain.records): one row per record, keyed per
    # customer by (kind, ref); the columns rules and the profile filter on, the whole
    # record as JSON. Amounts are also kept as exact integers of 1/10000 (amount_e4)
    # so that rule sums agree with PostgreSQL's. And per user the last event they saw
    # of a customer (new-activity badges). Each statement may run again (IF NOT EXISTS,
    # ON CONFLICT): a store whose version was set back runs it twice harmlessly.
    10: (
        """CREATE TABLE IF NOT EXISTS linked_records (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            state TEXT NOT NULL,
            amount_e4 INTEGER,
            currency TEXT,
            moment TEXT,
            due TEXT,
            channel TEXT,
            body TEXT NOT NULL,
            UNIQUE (customer_id, kind, ref)
        )""",
        "CREATE INDEX IF NOT EXISTS linked_records_kind ON linked_records(kind, state, customer_id)",
        "CREATE INDEX IF NOT EXISTS linked_records_moment ON linked_records(kind, moment)",
        # A customer converted before records existed has its order as a record too.
        """INSERT INTO linked_records (customer_id, kind, ref, state, moment, body)
        SELECT id, 'order', order_id, 'placed', COALESCE(converted_at, updated_at),
            json_object('customer_id', id, 'kind', 'order', 'ref', order_id, 'state', 'placed',
                'at', COALESCE(converted_at, updated_at),
                'created_at', COALESCE(converted_at, updated_at),
                'updated_at', COALESCE(converted_at, updated_at))
        FROM customers WHERE order_id IS NOT NULL AND merged_into IS NULL
        ON CONFLICT DO NOTHING""",
        """CREATE TABLE IF NOT EXISTS customer_seen (
            user_name TEXT NOT NULL,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            event_id INTEGER NOT NULL,
            PRIMARY KEY (user_name, customer_id)
        ) WITHOUT ROWID""",
    ),
    # The board (each statement may run again: IF NOT EXISTS): who hid a card from a flow and when; a flow's own history (renames,
    # rule and column edits: the events table is per customer); and indexes over live
    # customers only (a merged tombstone is on no board) that cover a column's count,
    # its deal values and its newest cards, the flow's folder test first.
    11: (
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
    # The board's indexes also hold the row's tags (its JSON text): a rule's tag test on
    # a board's candidates is read from the index (rules.sql, tag_held) instead of one
    # customer_tags look-up per candidate. Rebuilt under the same names.
    12: (
        "DROP INDEX IF EXISTS customers_live_board",
        "CREATE INDEX IF NOT EXISTS customers_live_board ON customers"
        "(folder, status, updated_at, id, currency, value_num, created_at, source, merged_into,"
        " tags) WHERE merged_into IS NULL",
        "DROP INDEX IF EXISTS customers_live_status",
        "CREATE INDEX IF NOT EXISTS customers_live_status ON customers"
        "(status, updated_at, id, currency, value_num, created_at, source, merged_into, tags)"
        " WHERE merged_into IS NULL",
    ),
}
"""Statements that take a store from version N-1 to N."""

SEARCH_VERSION = 8
"""The last version that changed the search index (5 added terms; 6 transliterated them
and gave emails a kind of their own; 8 moved them to FTS5): a store migrating from
before it indexes its customers again."""

LATEST = max(MIGRATIONS)

CONTACT_KEYS_CHANGED = 9
"""The last version that changed contact keys (2 added them; 6 dropped phone extensions;
9 read emails with email-validator and 00 numbers in their region first): a store
migrating across it recomputes them."""
