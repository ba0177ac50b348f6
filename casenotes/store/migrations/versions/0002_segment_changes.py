"""The search index's ordered change log, backfilled with an `add` for every searchable segment.

Searchable means a segment of its note's current revision: older revisions' segments stay in
the database but not in the index, so the backfill leaves them out.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('segment_change',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=6), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sqlite_autoincrement=True,
    )
    _backfill()


def downgrade() -> None:
    op.drop_table('segment_change')


def _backfill() -> None:
    segment = sa.table('segment', sa.column('id', sa.Integer), sa.column('revision_pk', sa.Integer))
    revision_ = sa.table('note_revision', sa.column('id', sa.Integer), sa.column('note_pk', sa.Integer),
                         sa.column('revision', sa.Integer))
    note = sa.table('note', sa.column('id', sa.Integer), sa.column('current_revision', sa.Integer))
    change = sa.table('segment_change', sa.column('segment_id', sa.Integer), sa.column('op', sa.String),
                      sa.column('at', sa.DateTime(timezone=True)))
    current = (
        sa.select(segment.c.id, sa.literal('add', sa.String), sa.literal(datetime.now(timezone.utc),
                                                                       sa.DateTime(timezone=True)))
        .select_from(segment.join(revision_, segment.c.revision_pk == revision_.c.id)
                     .join(note, sa.and_(revision_.c.note_pk == note.c.id,
                                         revision_.c.revision == note.c.current_revision)))
        .order_by(segment.c.id)
    )
    op.execute(change.insert().from_select(['segment_id', 'op', 'at'], current))
