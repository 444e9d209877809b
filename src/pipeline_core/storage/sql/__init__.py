"""SQL shared by the SQLite and PostgreSQL backends: query mixins with dialect hooks."""
