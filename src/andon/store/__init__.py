"""The store: SQLAlchemy Core tables, engines for SQLite and PostgreSQL, migrations.

Routes and CLI commands own transactions; domain services take a ``Connection`` and only execute.
"""

from andon.store.engine import create_engine, data_dir, database_url, migrate, open_store, reading

__all__ = ["create_engine", "data_dir", "database_url", "migrate", "open_store", "reading"]
