"""worker heartbeats: a dead replica's leases are taken over when its heartbeat stops

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_workers",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_pipeline_workers")),
    )
    op.create_index(
        op.f("ix_pipeline_workers_heartbeat_at"), "pipeline_workers", ["heartbeat_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pipeline_workers_heartbeat_at"), table_name="pipeline_workers")
    op.drop_table("pipeline_workers")
