"""The ``pipeline`` command groups, one module each, attached to the root by ``cli.py``."""
