"""privileges: grants, applications, adjustments, check overrides

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('privilege_right',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('ptype', sa.String(length=24), nullable=False),
    sa.Column('group_key', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('requirement', sa.Text(), nullable=True),
    sa.Column('evidence_required', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_right')),
    sa.UniqueConstraint('code', name=op.f('uq_privilege_right_code'))
    )
    with op.batch_alter_table('privilege_right', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privilege_right_ptype'), ['ptype'], unique=False)

    op.create_table('privilege_stamp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_stamp'))
    )
    op.create_table('privilege_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('ptype', sa.String(length=24), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('denial', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('client', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_privilege_override_department_id_department')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], name=op.f('fk_privilege_override_reviewed_by_id_user_account')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_privilege_override_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_override'))
    )
    with op.batch_alter_table('privilege_override', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privilege_override_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_override_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_override_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_override_status'), ['status'], unique=False)

    op.create_table('privilege_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=120), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['set_by_id'], ['user_account.id'], name=op.f('fk_privilege_setting_set_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_setting')),
    sa.UniqueConstraint('key', 'effective_from', name=op.f('uq_privilege_setting_key'))
    )
    op.create_table('privilege_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('ptype', sa.String(length=24), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('renewal_of_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('auto_outcome', sa.String(length=12), nullable=True),
    sa.Column('auto_reason', sa.Text(), nullable=True),
    sa.Column('auto_rules', sa.JSON(), nullable=True),
    sa.Column('reviewers', sa.JSON(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['applicant_id'], ['user_account.id'], name=op.f('fk_privilege_application_applicant_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_privilege_application_department_id_department')),
    sa.ForeignKeyConstraint(['instance_id'], ['wf_instance.id'], name=op.f('fk_privilege_application_instance_id_wf_instance')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_privilege_application_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_application')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_privilege_application_instance_id'))
    )
    with op.batch_alter_table('privilege_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privilege_application_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_application_ptype'), ['ptype'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_application_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_application_status'), ['status'], unique=False)

    op.create_table('privilege_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('ptype', sa.String(length=24), nullable=False),
    sa.Column('item_key', sa.String(length=80), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('right_code', sa.String(length=60), nullable=True),
    sa.Column('variant', sa.String(length=16), nullable=True),
    sa.Column('item_name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('scope', sa.Text(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('has_changes', sa.Boolean(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('renewal_of_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['privilege_application.id'], name=op.f('fk_privilege_grant_application_id_privilege_application')),
    sa.ForeignKeyConstraint(['granted_by_id'], ['user_account.id'], name=op.f('fk_privilege_grant_granted_by_id_user_account')),
    sa.ForeignKeyConstraint(['instance_id'], ['wf_instance.id'], name=op.f('fk_privilege_grant_instance_id_wf_instance')),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_item.id'], name=op.f('fk_privilege_grant_item_id_catalog_item')),
    sa.ForeignKeyConstraint(['renewal_of_id'], ['privilege_grant.id'], name=op.f('fk_privilege_grant_renewal_of_id_privilege_grant')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_privilege_grant_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_grant'))
    )
    with op.batch_alter_table('privilege_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privilege_grant_end_date'), ['end_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_grant_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_grant_ptype'), ['ptype'], unique=False)
        batch_op.create_index('ix_privilege_grant_staff_item', ['staff_id', 'item_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_privilege_grant_status'), ['status'], unique=False)

    op.create_table('privilege_application_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=80), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('right_code', sa.String(length=60), nullable=True),
    sa.Column('variant', sa.String(length=16), nullable=True),
    sa.Column('item_name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('eligible', sa.Boolean(), nullable=False),
    sa.Column('eligibility_reason', sa.Text(), nullable=True),
    sa.Column('history', sa.JSON(), nullable=True),
    sa.Column('grant_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['privilege_application.id'], name=op.f('fk_privilege_application_item_application_id_privilege_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grant_id'], ['privilege_grant.id'], name=op.f('fk_privilege_application_item_grant_id_privilege_grant')),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_item.id'], name=op.f('fk_privilege_application_item_item_id_catalog_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_application_item'))
    )
    with op.batch_alter_table('privilege_application_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privilege_application_item_application_id'), ['application_id'], unique=False)

    op.create_table('privilege_grant_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('audit_seq', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_privilege_grant_change_actor_id_user_account')),
    sa.ForeignKeyConstraint(['grant_id'], ['privilege_grant.id'], name=op.f('fk_privilege_grant_change_grant_id_privilege_grant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privilege_grant_change'))
    )
    with op.batch_alter_table('privilege_grant_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privilege_grant_change_grant_id'), ['grant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('privilege_grant_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privilege_grant_change_grant_id'))

    op.drop_table('privilege_grant_change')
    with op.batch_alter_table('privilege_application_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privilege_application_item_application_id'))

    op.drop_table('privilege_application_item')
    with op.batch_alter_table('privilege_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privilege_grant_status'))
        batch_op.drop_index('ix_privilege_grant_staff_item')
        batch_op.drop_index(batch_op.f('ix_privilege_grant_ptype'))
        batch_op.drop_index(batch_op.f('ix_privilege_grant_item_id'))
        batch_op.drop_index(batch_op.f('ix_privilege_grant_end_date'))

    op.drop_table('privilege_grant')
    with op.batch_alter_table('privilege_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privilege_application_status'))
        batch_op.drop_index(batch_op.f('ix_privilege_application_staff_id'))
        batch_op.drop_index(batch_op.f('ix_privilege_application_ptype'))
        batch_op.drop_index(batch_op.f('ix_privilege_application_department_id'))

    op.drop_table('privilege_application')
    op.drop_table('privilege_setting')
    with op.batch_alter_table('privilege_override', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privilege_override_status'))
        batch_op.drop_index(batch_op.f('ix_privilege_override_staff_id'))
        batch_op.drop_index(batch_op.f('ix_privilege_override_department_id'))
        batch_op.drop_index(batch_op.f('ix_privilege_override_created_at'))

    op.drop_table('privilege_override')
    op.drop_table('privilege_stamp')
    with op.batch_alter_table('privilege_right', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privilege_right_ptype'))

    op.drop_table('privilege_right')
