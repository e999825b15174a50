"""Why a step went where it went: `enrollment_steps.decision`, and messages found by their enrollment.

- `enrollment_steps.decision` (JSONB, NULL): how a CONDITION, multi-branch CONDITION, SPLIT or GOAL_CHECK
  step decided (each rule's field, operator, expected and actual value and result; the bucket and the
  weights; the goal), or what a step waited on until when and in which zone (`domain.rules.StepDecision`).
  Values are cut short and emails and phone numbers masked before they are written. NULL for steps
  recorded before this revision and for steps with nothing to explain.
- `ix_messages_enrollment`: an enrollment's timeline reads its messages by enrollment.

Adding a nullable column rewrites no rows.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollment_steps", sa.Column("decision", JSONB(), nullable=True))
    op.create_index("ix_messages_enrollment", "messages", ["enrollment_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_enrollment", table_name="messages")
    op.drop_column("enrollment_steps", "decision")
