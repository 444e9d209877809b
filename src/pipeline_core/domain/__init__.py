"""The domain: attrs types and pure logic (no storage, no workspace, no command line)."""
