"""Storage: the Store protocol and its backends, found by URL scheme."""

from pipeline_core.storage.protocol import SCHEMA_VERSION, Order, Store, Transaction
from pipeline_core.storage.registry import known_schemes, open_store, register_backend

__all__ = [
    "SCHEMA_VERSION",
    "Order",
    "Store",
    "Transaction",
    "known_schemes",
    "open_store",
    "register_backend",
]
