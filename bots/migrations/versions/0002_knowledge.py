"""knowledge base tables

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=160), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("translation_of", sa.String(length=160), nullable=True),
        sa.Column("group_key", sa.String(length=160), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_articles_slug")),
    )
    op.create_index("ix_kb_articles_status_language", "kb_articles", ["status", "language"])
    op.create_index("ix_kb_articles_group", "kb_articles", ["group_key"])

    op.create_table(
        "kb_article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=300), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_article_versions_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article_versions")),
        sa.UniqueConstraint("article_id", "version", name="uq_kb_version"),
    )
    op.create_index(
        op.f("ix_kb_article_versions_article_id"), "kb_article_versions", ["article_id"]
    )

    op.create_table(
        "kb_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("slug", sa.String(length=160), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("customer_ref", sa.String(length=128), nullable=True),
        sa.Column("ticket_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_answers")),
    )
    op.create_index("ix_kb_answers_created", "kb_answers", ["created_at"])
    op.create_index("ix_kb_answers_customer", "kb_answers", ["customer_ref"])

    op.create_table(
        "kb_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("slug", sa.String(length=160), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("customer_ref", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["kb_answers.id"],
            name=op.f("fk_kb_feedback_answer_id_kb_answers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_feedback")),
    )
    op.create_index(op.f("ix_kb_feedback_answer_id"), "kb_feedback", ["answer_id"])
    op.create_index(op.f("ix_kb_feedback_customer_ref"), "kb_feedback", ["customer_ref"])
    op.create_index("ix_kb_feedback_slug", "kb_feedback", ["slug"])

    op.create_table(
        "kb_index_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_kb_index_state")),
    )


def downgrade() -> None:
    op.drop_table("kb_index_state")
    op.drop_index("ix_kb_feedback_slug", table_name="kb_feedback")
    op.drop_index(op.f("ix_kb_feedback_customer_ref"), table_name="kb_feedback")
    op.drop_index(op.f("ix_kb_feedback_answer_id"), table_name="kb_feedback")
    op.drop_table("kb_feedback")
    op.drop_index("ix_kb_answers_customer", table_name="kb_answers")
    op.drop_index("ix_kb_answers_created", table_name="kb_answers")
    op.drop_table("kb_answers")
    op.drop_index(op.f("ix_kb_article_versions_article_id"), table_name="kb_article_versions")
    op.drop_table("kb_article_versions")
    op.drop_index("ix_kb_articles_group", table_name="kb_articles")
    op.drop_index("ix_kb_articles_status_language", table_name="kb_articles")
    op.drop_table("kb_articles")
