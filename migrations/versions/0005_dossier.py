"""doctor dossier: profile, certificates, history, adverse-behaviour records, HR sync log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dossier_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('ethnicity', sa.String(length=20), nullable=True),
    sa.Column('education', sa.String(length=20), nullable=True),
    sa.Column('degree', sa.String(length=20), nullable=True),
    sa.Column('graduated_from', sa.String(length=100), nullable=True),
    sa.Column('major', sa.String(length=60), nullable=True),
    sa.Column('graduated_on', sa.Date(), nullable=True),
    sa.Column('personnel_category', sa.String(length=20), nullable=True),
    sa.Column('practice_registered_on', sa.Date(), nullable=True),
    sa.Column('practice_institution', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=120), nullable=True),
    sa.Column('office_phone', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_dossier_profile_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_profile')),
    sa.UniqueConstraint('id_number', name=op.f('uq_dossier_profile_id_number')),
    sa.UniqueConstraint('staff_id', name=op.f('uq_dossier_profile_staff_id'))
    )
    op.create_table('dossier_adverse',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('handling', sa.Text(), nullable=True),
    sa.Column('duty_department_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('source_ref', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('withdraw_reason', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['duty_department_id'], ['department.id'], name=op.f('fk_dossier_adverse_duty_department_id_department')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_dossier_adverse_recorded_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_dossier_adverse_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_dossier_adverse_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_adverse')),
    sa.UniqueConstraint('source', 'source_ref', name=op.f('uq_dossier_adverse_source'))
    )
    with op.batch_alter_table('dossier_adverse', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_adverse_duty_department_id'), ['duty_department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dossier_adverse_staff_id'), ['staff_id'], unique=False)

    op.create_table('dossier_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('cert_type', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=True),
    sa.Column('issuer', sa.String(length=100), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_dossier_certificate_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_dossier_certificate_uploaded_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_certificate')),
    sa.UniqueConstraint('cert_type', 'number', name=op.f('uq_dossier_certificate_cert_type'))
    )
    with op.batch_alter_table('dossier_certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_certificate_expires_on'), ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_dossier_certificate_staff_id'), ['staff_id'], unique=False)

    op.create_table('dossier_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('source_ref', sa.String(length=80), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_dossier_change_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_dossier_change_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_change'))
    )
    with op.batch_alter_table('dossier_change', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_change_staff_at', ['staff_id', 'changed_at'], unique=False)

    op.create_table('dossier_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('new_rows', sa.Integer(), nullable=False),
    sa.Column('changed_rows', sa.Integer(), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_dossier_import_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_import'))
    )
    with op.batch_alter_table('dossier_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_import_created_at'), ['created_at'], unique=False)

    op.create_table('dossier_certificate_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('stored_name', sa.String(length=120), nullable=False),
    sa.Column('thumb_name', sa.String(length=120), nullable=True),
    sa.Column('mime', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['dossier_certificate.id'], name=op.f('fk_dossier_certificate_file_certificate_id_dossier_certificate'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_certificate_file'))
    )
    with op.batch_alter_table('dossier_certificate_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_certificate_file_certificate_id'), ['certificate_id'], unique=False)

    op.create_table('dossier_certificate_reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['dossier_certificate.id'], name=op.f('fk_dossier_certificate_reminder_certificate_id_dossier_certificate'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_certificate_reminder')),
    sa.UniqueConstraint('certificate_id', 'expires_on', 'threshold', name=op.f('uq_dossier_certificate_reminder_certificate_id'))
    )
    op.create_table('dossier_export',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('job_run_id', sa.Integer(), nullable=True),
    sa.Column('stored_name', sa.String(length=120), nullable=True),
    sa.Column('download_name', sa.String(length=200), nullable=True),
    sa.Column('certificates', sa.Integer(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_run.id'], name=op.f('fk_dossier_export_job_run_id_job_run'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_dossier_export_requested_by_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_dossier_export_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_export'))
    )
    with op.batch_alter_table('dossier_export', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_export_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dossier_export_requested_by_id'), ['requested_by_id'], unique=False)

    op.create_table('dossier_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('institution', sa.String(length=120), nullable=False),
    sa.Column('department', sa.String(length=60), nullable=True),
    sa.Column('role', sa.String(length=60), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('hours', sa.Numeric(precision=7, scale=1), nullable=True),
    sa.Column('credits', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['dossier_certificate.id'], name=op.f('fk_dossier_history_certificate_id_dossier_certificate'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_dossier_history_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_history'))
    )
    with op.batch_alter_table('dossier_history', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_history_staff_kind', ['staff_id', 'kind'], unique=False)


def downgrade():
    with op.batch_alter_table('dossier_history', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_history_staff_kind')

    op.drop_table('dossier_history')
    with op.batch_alter_table('dossier_export', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_export_requested_by_id'))
        batch_op.drop_index(batch_op.f('ix_dossier_export_created_at'))

    op.drop_table('dossier_export')
    op.drop_table('dossier_certificate_reminder')
    with op.batch_alter_table('dossier_certificate_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_certificate_file_certificate_id'))

    op.drop_table('dossier_certificate_file')
    with op.batch_alter_table('dossier_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_import_created_at'))

    op.drop_table('dossier_import')
    with op.batch_alter_table('dossier_change', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_change_staff_at')

    op.drop_table('dossier_change')
    with op.batch_alter_table('dossier_certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_certificate_staff_id'))
        batch_op.drop_index(batch_op.f('ix_dossier_certificate_expires_on'))

    op.drop_table('dossier_certificate')
    with op.batch_alter_table('dossier_adverse', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_adverse_staff_id'))
        batch_op.drop_index(batch_op.f('ix_dossier_adverse_duty_department_id'))

    op.drop_table('dossier_adverse')
    op.drop_table('dossier_profile')
