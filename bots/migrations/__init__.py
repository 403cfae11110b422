"""The one Alembic history for every package's tables."""
