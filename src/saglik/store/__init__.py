"""Persistence: SQLAlchemy 2 Core tables, repositories and Alembic migrations.

SQLite (WAL) is the embedded default; PostgreSQL is the store for more than one host.
"""
