"""aiod-kg's relational state (catalogue index, feed, access rules, harvest and sync state,
links, files ledger) on one seam: SQLite files by default, one PostgreSQL database when
``AIOD_KG_DATABASE`` names one (replicas on many machines, issue 13).

``open_database(settings, name)`` is the one way to open it; each former SQLite file is a
*name* (``catalog``, ``harvest``, ``sync``, ``links``, ``files``), which is a file beside the
store or a schema of the PostgreSQL database. Code above the seam writes one SQL dialect, the
common subset of SQLite (>= 3.35) and PostgreSQL: ``?`` placeholders, ``INSERT ... ON
CONFLICT (...) DO UPDATE/NOTHING``, ``RETURNING``, no ``rowid``; ``kg.db.dialect`` translates
placeholders and DDL types for PostgreSQL.
"""

from kg.db.database import Connection, Cursor, Database, open_database

__all__ = ["Connection", "Cursor", "Database", "open_database"]
