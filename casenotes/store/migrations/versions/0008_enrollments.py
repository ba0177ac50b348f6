"""One person, many programs: a client's stays in programs are enrollments, and plans and notes
belong to one.

Each existing client gets one active enrollment in the program it had, starting the day it was
created; its plans and notes join that enrollment, and `client.program` goes. Access stays as it
was: a program-scoped token sees the client, and every note and plan, through that enrollment.

Audit rows gain the program of the enrollment they are about (None for the whole person). The
audit log is append-only, so rows from before this migration keep None.

SQLite: the columns are added and dropped in place (SQLite 3.35 or later), never by copying a
table: `client`, `plan` and `note` are referenced with ON DELETE CASCADE, and copying one would
drop the original, deleting what hangs off it. So there `enrollment_pk` stays nullable in the
schema (SQLite adds no NOT NULL column to a table with rows); every writer sets it. The downgrade
runs on PostgreSQL only: on SQLite, restore the copy taken before upgrading.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12
"""
from datetime import UTC, date, datetime

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table('enrollment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['client.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollment_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollment_program'), ['program'], unique=False)
        batch_op.create_index('ux_enrollment_active', ['client_pk', 'program'], unique=True,
                              sqlite_where=_ACTIVE, postgresql_where=_ACTIVE)

    _enroll_every_client()
    for table in ('plan', 'note'):
        _add_enrollment_column(table)
    op.drop_index('ix_client_program', table_name='client')
    _drop_column('client', 'program')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('program', sa.String(length=100), nullable=True))


def _enroll_every_client() -> None:
    """One active enrollment per client, in its program, from the day it was created."""
    connection = op.get_bind()
    client = sa.table('client', sa.column('id', sa.Integer()), sa.column('program', sa.String()),
                      sa.column('created_at', sa.DateTime(timezone=True)))
    enrollment = sa.table('enrollment', sa.column('client_pk', sa.Integer()), sa.column('program', sa.String()),
                          sa.column('start_date', sa.Date()), sa.column('status', sa.String()),
                          sa.column('created_at', sa.DateTime(timezone=True)))
    rows = [{"client_pk": pk, "program": program, "start_date": _day(created_at), "status": "active",
             "created_at": created_at}
            for pk, program, created_at in connection.execute(sa.select(client.c.id, client.c.program,
                                                                        client.c.created_at))]
    if rows:
        connection.execute(sa.insert(enrollment), rows)


def _day(created_at: datetime) -> date:
    """The day, in UTC, a client was created (SQLite keeps no zone: its timestamps are UTC)."""
    return (created_at.astimezone(UTC) if created_at.tzinfo else created_at).date()


def _add_enrollment_column(table: str) -> None:
    """`enrollment_pk` on `table`, filled from the client's one enrollment, indexed."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f'ALTER TABLE "{table}" ADD COLUMN enrollment_pk INTEGER '
                   'REFERENCES enrollment (id) ON DELETE CASCADE')
    else:
        op.add_column(table, sa.Column('enrollment_pk', sa.Integer(), nullable=True))
        op.create_foreign_key(f'{table}_enrollment_pk_fkey', table, 'enrollment', ['enrollment_pk'], ['id'],
                              ondelete='CASCADE')
    op.execute(f'UPDATE "{table}" SET enrollment_pk = (SELECT enrollment.id FROM enrollment '
               f'WHERE enrollment.client_pk = "{table}".client_pk)')
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(table, 'enrollment_pk', existing_type=sa.Integer(), nullable=False)
    op.create_index(f'ix_{table}_enrollment_pk', table, ['enrollment_pk'], unique=False)


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    else:
        op.drop_column(table, column)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        raise NotImplementedError("0008 downgrades on PostgreSQL only; on SQLite restore the copy taken "
                                  "before upgrading")
    op.drop_column('audit_log', 'program')
    op.add_column('client', sa.Column('program', sa.String(length=100), nullable=True))
    # A person in several programs goes back to the one they joined first.
    op.execute('UPDATE client SET program = (SELECT enrollment.program FROM enrollment '
               'WHERE enrollment.client_pk = client.id ORDER BY enrollment.id LIMIT 1)')
    op.execute("UPDATE client SET program = 'unassigned' WHERE program IS NULL")
    op.alter_column('client', 'program', existing_type=sa.String(length=100), nullable=False)
    op.create_index('ix_client_program', 'client', ['program'], unique=False)
    for table in ('note', 'plan'):
        op.drop_index(f'ix_{table}_enrollment_pk', table_name=table)
        op.drop_column(table, 'enrollment_pk')
    op.drop_table('enrollment')
