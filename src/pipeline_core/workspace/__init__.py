"""The facade, the Session of one use case, and the use cases grouped by area."""

from pipeline_core.workspace.facade import DEFAULT_STORE_URL, Workspace
from pipeline_core.workspace.flows import DEFAULT_BOARD_LIMIT

__all__ = ["DEFAULT_BOARD_LIMIT", "DEFAULT_STORE_URL", "Workspace"]
