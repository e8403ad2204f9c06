"""WHAT HAPPENED: trial storage (SQLite by default, in-memory for tests)."""

from archsearch.storage.base import STORAGES, Storage
from archsearch.storage.memory import InMemoryStorage
from archsearch.storage.sqlite import SQLiteStorage

__all__ = ["STORAGES", "InMemoryStorage", "SQLiteStorage", "Storage"]
