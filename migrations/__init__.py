"""Alembic migrations. Revisions apply the database objects kept one per file under sql/ and the
PL/Python modules under plpython/; see migrations/objects.py."""
