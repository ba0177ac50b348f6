"""PostgreSQL keeps no samples of note text in its planner statistics.

ANALYZE copies common values and histogram bounds of each column into pg_statistic, so
short note texts, goal texts and review comments would outlive their rows' erasure
there. The planner never needs them: these columns are never filtered on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TEXT_COLUMNS = (("note_revision", "text", "text"), ("plan_goal", "text", "text"), ("flag", "comment", "text"),
                ("review", "comment", "text"), ("note", "author", "varchar(200)"))
POSTGRES_DEFAULT_TARGET = -1


def _set_statistics(target: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, sql_type in TEXT_COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET STATISTICS {target}')
        # Re-stating the column's own type drops the samples already taken (no rewrite);
        # a plain ANALYZE would leave them, since it skips a column with target 0.
        op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE {sql_type}')


def upgrade() -> None:
    _set_statistics(0)


def downgrade() -> None:
    _set_statistics(POSTGRES_DEFAULT_TARGET)
