"""per-outcome counts on reports; cumulative count snapshots (tally mode)

Revision ID: 0003_outcomes_snapshots
Revises: 0001

Formats agreed with the quick-count side (FORMATS.md): (a) a report may carry the
votes per outcome of the station's result protocol; (b) cumulative snapshots, one
row per reading, keyed by the client's UUID so a resend is stored once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_outcomes_snapshots"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcomes", sa.JSON(), nullable=True))
    op.create_table(
        "snapshots",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("election_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("observer_id", sa.Integer(), nullable=False),
        sa.Column("counted_since", sa.Integer(), nullable=False),
        sa.Column("time", sa.Integer(), nullable=False),
        sa.Column("cumulative", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["election_id"], ["elections.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["observer_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_snapshots_station", ["station_id", "time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_snapshots_station")
    op.drop_table("snapshots")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("outcomes")
