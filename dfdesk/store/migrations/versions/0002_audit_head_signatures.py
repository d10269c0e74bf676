"""audit head signatures: who signed each row's chain head, and the signature

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Plain ALTER TABLE ADD COLUMN (no batch copy of the table), so the append-only triggers of 0001 stay in place.
Rows written before this revision keep an empty signature; `dfdesk audit verify` reports them as unsigned.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('signer', sa.String(length=64), nullable=False, server_default=''))
    op.add_column('audit_events', sa.Column('signature', sa.String(length=100), nullable=False, server_default=''))


# SQLite drops a column by copying the table, which drops its triggers: the append-only guards of 0001 are
# created again afterwards.
APPEND_ONLY_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('signature')
        batch_op.drop_column('signer')
    for statement in APPEND_ONLY_TRIGGERS:
        op.execute(statement)
