"""case examiner: who examines the case (nullable: cases made before this revision have none recorded)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-14

Plain ALTER TABLE ADD COLUMN, so an existing database is upgraded in place: its rows, and the append-only
triggers of 0001 on audit_events, stay as they were.  NULL means "not recorded", which the report prints as such.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('examiner', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('examiner')
