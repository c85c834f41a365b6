"""technology catalog: hospital and department catalogs, restricted-technology indicators

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('catalog_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_item')),
    sa.UniqueConstraint('code', name=op.f('uq_catalog_item_code'))
    )
    with op.batch_alter_table('catalog_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_item_kind'), ['kind'], unique=False)

    op.create_table('catalog_item_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_item.id'], name=op.f('fk_catalog_item_code_item_id_catalog_item'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_item_code')),
    sa.UniqueConstraint('item_id', 'code', name=op.f('uq_catalog_item_code_item_id'))
    )
    with op.batch_alter_table('catalog_item_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_item_code_code'), ['code'], unique=False)

    op.create_table('catalog_indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('numerator', sa.Text(), nullable=False),
    sa.Column('denominator', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('target', sa.String(length=60), nullable=True),
    sa.Column('measure', sa.String(length=20), nullable=True),
    sa.Column('complication_codes', sa.String(length=200), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_item.id'], name=op.f('fk_catalog_indicator_item_id_catalog_item'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_indicator'))
    )
    with op.batch_alter_table('catalog_indicator', schema=None) as batch_op:
        batch_op.create_index('ix_catalog_indicator_item_key', ['item_id', 'key'], unique=True)

    op.create_table('department_catalog_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('removed_at', sa.DateTime(), nullable=True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['user_account.id'],
                            name=op.f('fk_department_catalog_item_added_by_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'],
                            name=op.f('fk_department_catalog_item_department_id_department')),
    sa.ForeignKeyConstraint(['instance_id'], ['wf_instance.id'],
                            name=op.f('fk_department_catalog_item_instance_id_wf_instance')),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_item.id'],
                            name=op.f('fk_department_catalog_item_item_id_catalog_item')),
    sa.ForeignKeyConstraint(['removed_by_id'], ['user_account.id'],
                            name=op.f('fk_department_catalog_item_removed_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department_catalog_item')),
    sa.UniqueConstraint('department_id', 'item_id', name=op.f('uq_department_catalog_item_department_id'))
    )
    with op.batch_alter_table('department_catalog_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_catalog_item_department_id'), ['department_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_department_catalog_item_item_id'), ['item_id'], unique=False)


def downgrade():
    with op.batch_alter_table('department_catalog_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_catalog_item_item_id'))
        batch_op.drop_index(batch_op.f('ix_department_catalog_item_department_id'))

    op.drop_table('department_catalog_item')
    with op.batch_alter_table('catalog_indicator', schema=None) as batch_op:
        batch_op.drop_index('ix_catalog_indicator_item_key')

    op.drop_table('catalog_indicator')
    with op.batch_alter_table('catalog_item_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_item_code_code'))

    op.drop_table('catalog_item_code')
    with op.batch_alter_table('catalog_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_item_kind'))

    op.drop_table('catalog_item')
