"""Accept now, score next: a revision may wait for scoring, and PostgreSQL holds the job queue.

A revision stored before it is scored is `pending` and has no model or rubric yet; the worker
that scores it makes it `scored`, or `failed` with a reason (never note text). Revisions stored
before this migration were scored on arrival.

On PostgreSQL the scoring jobs live in procrastinate's tables, created here from the schema of
the pinned procrastinate release, so a note and its job commit in one transaction. The
embedded SQLite default needs no queue tables: its in-process worker reads the pending
revisions themselves, with the attempt count and next attempt time kept on the revision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SCORED_ON_ARRIVAL = ("model_version", "rubric_name", "rubric_version", "rubric_hash")


def upgrade() -> None:
    with op.batch_alter_table('note_revision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scoring_state', sa.String(length=10), nullable=False,
                                      server_default='scored'))
        batch_op.add_column(sa.Column('scoring_error', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('scoring_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        for column in SCORED_ON_ARRIVAL:
            batch_op.alter_column(column, existing_type=sa.String(), nullable=True)
        batch_op.create_index('ix_note_revision_pending', ['scoring_state', 'next_attempt_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Through the driver's own cursor, with no parameters: the schema's "%" is not a placeholder.
        with op.get_bind().connection.dbapi_connection.cursor() as cursor:
            cursor.execute(_procrastinate_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        schema = _procrastinate_schema()
        for kind in ("TABLE", "FUNCTION", "TYPE"):
            for name in dict.fromkeys(re.findall(rf"^CREATE {kind} (\w+)", schema, re.MULTILINE)):
                op.execute(f"DROP {kind} IF EXISTS {name} CASCADE")
    op.execute("DELETE FROM note_revision WHERE scoring_state <> 'scored'")
    with op.batch_alter_table('note_revision', schema=None) as batch_op:
        batch_op.drop_index('ix_note_revision_pending')
        for column in SCORED_ON_ARRIVAL:
            batch_op.alter_column(column, existing_type=sa.String(), nullable=False)
        for column in ('next_attempt_at', 'scoring_attempts', 'scoring_error', 'scoring_state'):
            batch_op.drop_column(column)


def _procrastinate_schema() -> str:
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()
