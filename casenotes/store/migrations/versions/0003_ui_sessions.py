"""Review-UI sessions: the cookie holds a random session id (stored here only as its SHA-256)
instead of the bearer token itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ui_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('token_pk', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['token_pk'], ['api_token.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ui_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ui_session_token_pk'), ['token_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_ui_session_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ui_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ui_session_expires_at'))
        batch_op.drop_index(batch_op.f('ix_ui_session_token_pk'))

    op.drop_table('ui_session')
