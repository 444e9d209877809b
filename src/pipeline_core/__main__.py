"""``python -m pipeline_core``: the same as the ``pipeline`` command."""

from pipeline_core.cli import main

main()
