"""Persistence: SQLAlchemy 2 Core tables, repositories, Alembic migrations (SQLite and PostgreSQL)."""
