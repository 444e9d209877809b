"""The ``pipeline`` command groups, one module each (``customers`` with its sub-modules).

A module imports ``_common`` and the layers below, never ``pipeline_core.cli`` nor
another group's module; ``cli.py`` names them all and imports one when it is used.
"""
