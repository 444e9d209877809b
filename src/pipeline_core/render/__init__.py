"""Output for people and programs: tables, JSON, CSV, charts (no click, no storage)."""
