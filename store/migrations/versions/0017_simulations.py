"""`simulations`: what a simulation was asked and what it found (`POST /v1/journeys/{id}/simulations`).

One row per simulation: the request (cohort, scripted events, horizon) and, once played, the result
(per-node and per-branch counts, sends, conversion, sample paths) as JSONB; `status` RUNNING until a
large cohort's background run finishes (COMPLETED) or fails (FAILED, with `error`). Nothing else a
simulation does is written anywhere.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "simulations",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("journey_id", UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("request", JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("result", JSONB(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_simulations_journey", "simulations", ["tenant_id", "journey_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_simulations_journey", table_name="simulations")
    op.drop_table("simulations")
