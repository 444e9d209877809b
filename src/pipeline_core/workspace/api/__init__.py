"""The facade's nouns: ``ws.customers``, ``ws.flows``, ``ws.tasks``...

Each method opens one session (through the ``Workspace``) and calls one use case
function; the command line's groups and commands are the same nouns and verbs
(docs/vocabulary.md lists the mapping).
"""
