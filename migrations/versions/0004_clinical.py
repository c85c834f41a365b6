"""clinical data: dictionaries, HIS/EMR records, imports, doctor-month metrics

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('clinical_complication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('stay_id', sa.Integer(), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_complication')),
    sa.UniqueConstraint('source_id', name=op.f('uq_clinical_complication_source_id'))
    )
    with op.batch_alter_table('clinical_complication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_complication_operation_id'), ['operation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_complication_stay_id'), ['stay_id'], unique=False)

    op.create_table('clinical_diagnosis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_diagnosis')),
    sa.UniqueConstraint('code', name=op.f('uq_clinical_diagnosis_code'))
    )
    op.create_table('clinical_drug',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('spec', sa.String(length=80), nullable=True),
    sa.Column('antimicrobial_tier', sa.String(length=16), nullable=True),
    sa.Column('anticancer_tier', sa.String(length=16), nullable=True),
    sa.Column('controlled_class', sa.String(length=16), nullable=True),
    sa.Column('tcm_type', sa.String(length=16), nullable=True),
    sa.Column('glucocorticoid', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_drug')),
    sa.UniqueConstraint('code', name=op.f('uq_clinical_drug_code'))
    )
    op.create_table('clinical_operation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('stay_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('performed_at', sa.DateTime(), nullable=False),
    sa.Column('op_month', sa.Date(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('surgeon_id', sa.Integer(), nullable=False),
    sa.Column('assistant1_id', sa.Integer(), nullable=True),
    sa.Column('assistant2_id', sa.Integer(), nullable=True),
    sa.Column('incision_grade', sa.String(length=3), nullable=True),
    sa.Column('healing_grade', sa.String(length=4), nullable=True),
    sa.Column('anesthesia_method', sa.String(length=40), nullable=True),
    sa.Column('anesthetist_id', sa.Integer(), nullable=True),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('unplanned_reoperation', sa.Boolean(), nullable=False),
    sa.Column('above_level', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_operation')),
    sa.UniqueConstraint('source_id', name=op.f('uq_clinical_operation_source_id'))
    )
    with op.batch_alter_table('clinical_operation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_operation_assistant1_id'), ['assistant1_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_operation_assistant2_id'), ['assistant2_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_operation_code'), ['code'], unique=False)
        batch_op.create_index('ix_clinical_operation_department_month', ['department_id', 'op_month'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_operation_performed_at'), ['performed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_operation_stay_id'), ['stay_id'], unique=False)
        batch_op.create_index('ix_clinical_operation_surgeon_month', ['surgeon_id', 'op_month'], unique=False)

    op.create_table('clinical_or_registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('stay_id', sa.Integer(), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=20), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('scheduled_at', sa.DateTime(), nullable=False),
    sa.Column('scheduled_surgeon_id', sa.Integer(), nullable=True),
    sa.Column('actual_surgeon_id', sa.Integer(), nullable=True),
    sa.Column('room', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_or_registration')),
    sa.UniqueConstraint('source_id', name=op.f('uq_clinical_or_registration_source_id'))
    )
    with op.batch_alter_table('clinical_or_registration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_or_registration_operation_id'), ['operation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_or_registration_stay_id'), ['stay_id'], unique=False)

    op.create_table('clinical_patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('mrn', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_patient')),
    sa.UniqueConstraint('source_id', name=op.f('uq_clinical_patient_source_id'))
    )
    with op.batch_alter_table('clinical_patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_patient_mrn'), ['mrn'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_patient_name'), ['name'], unique=False)

    op.create_table('clinical_prescription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('stay_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('prescriber_id', sa.Integer(), nullable=False),
    sa.Column('drug_code', sa.String(length=32), nullable=False),
    sa.Column('prescribed_on', sa.Date(), nullable=False),
    sa.Column('setting', sa.String(length=10), nullable=False),
    sa.Column('dose', sa.String(length=40), nullable=True),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_prescription')),
    sa.UniqueConstraint('source_id', name=op.f('uq_clinical_prescription_source_id'))
    )
    with op.batch_alter_table('clinical_prescription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_prescription_drug_code'), ['drug_code'], unique=False)
        batch_op.create_index('ix_clinical_prescription_prescriber_date', ['prescriber_id', 'prescribed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_prescription_stay_id'), ['stay_id'], unique=False)

    op.create_table('clinical_procedure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('minimally_invasive', sa.Boolean(), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_procedure')),
    sa.UniqueConstraint('code', name=op.f('uq_clinical_procedure_code'))
    )
    op.create_table('clinical_record_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('stay_id', sa.Integer(), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('chair_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_record_event')),
    sa.UniqueConstraint('source_id', name=op.f('uq_clinical_record_event_source_id'))
    )
    with op.batch_alter_table('clinical_record_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_record_event_operation_id'), ['operation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_record_event_stay_id'), ['stay_id'], unique=False)

    op.create_table('clinical_stay',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('admission_no', sa.String(length=32), nullable=True),
    sa.Column('admitted_at', sa.DateTime(), nullable=False),
    sa.Column('discharged_at', sa.DateTime(), nullable=False),
    sa.Column('admit_department_id', sa.Integer(), nullable=False),
    sa.Column('discharge_department_id', sa.Integer(), nullable=False),
    sa.Column('attending_id', sa.Integer(), nullable=False),
    sa.Column('responsible_id', sa.Integer(), nullable=True),
    sa.Column('discharge_method', sa.String(length=1), nullable=False),
    sa.Column('readmission_plan', sa.Boolean(), nullable=False),
    sa.Column('unplanned_readmission', sa.Boolean(), nullable=False),
    sa.Column('total_cost', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('main_diagnosis_code', sa.String(length=20), nullable=True),
    sa.Column('main_diagnosis_name', sa.String(length=120), nullable=True),
    sa.Column('discharge_month', sa.Date(), nullable=False),
    sa.Column('los_days', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_stay')),
    sa.UniqueConstraint('source_id', name=op.f('uq_clinical_stay_source_id'))
    )
    with op.batch_alter_table('clinical_stay', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_stay_admission_no'), ['admission_no'], unique=False)
        batch_op.create_index('ix_clinical_stay_attending_month', ['attending_id', 'discharge_month'], unique=False)
        batch_op.create_index('ix_clinical_stay_department_month', ['discharge_department_id', 'discharge_month'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_stay_discharged_at'), ['discharged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_stay_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_stay_responsible_id'), ['responsible_id'], unique=False)

    op.create_table('clinical_stay_diagnosis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stay_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_stay_diagnosis'))
    )
    with op.batch_alter_table('clinical_stay_diagnosis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_stay_diagnosis_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_stay_diagnosis_stay_id'), ['stay_id'], unique=False)

    op.create_table('clinical_unknown_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dictionary', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_unknown_code'))
    )
    with op.batch_alter_table('clinical_unknown_code', schema=None) as batch_op:
        batch_op.create_index('ix_clinical_unknown_code_dictionary_code', ['dictionary', 'code'], unique=True)

    op.create_table('doctor_month_metric',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('title_level', sa.Integer(), nullable=False),
    sa.Column('discharges', sa.Integer(), nullable=False),
    sa.Column('los_days', sa.Integer(), nullable=False),
    sa.Column('total_cost', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('deaths', sa.Integer(), nullable=False),
    sa.Column('unplanned_readmissions', sa.Integer(), nullable=False),
    sa.Column('long_stays', sa.Integer(), nullable=False),
    sa.Column('complications', sa.Integer(), nullable=False),
    sa.Column('operations', sa.Integer(), nullable=False),
    sa.Column('ops_level1', sa.Integer(), nullable=False),
    sa.Column('ops_level2', sa.Integer(), nullable=False),
    sa.Column('ops_level3', sa.Integer(), nullable=False),
    sa.Column('ops_level4', sa.Integer(), nullable=False),
    sa.Column('ops_above_level', sa.Integer(), nullable=False),
    sa.Column('reoperations', sa.Integer(), nullable=False),
    sa.Column('surgical_patients', sa.Integer(), nullable=False),
    sa.Column('surgical_deaths', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('staff_id', 'month', name=op.f('pk_doctor_month_metric'))
    )
    op.create_table('clinical_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('stored_path', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('error_rows', sa.Integer(), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('unknown_codes', sa.JSON(), nullable=False),
    sa.Column('preview', sa.JSON(), nullable=False),
    sa.Column('job_run_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_clinical_import_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_import'))
    )
    with op.batch_alter_table('clinical_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_import_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_import_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_import_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('clinical_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_import_status'))
        batch_op.drop_index(batch_op.f('ix_clinical_import_kind'))
        batch_op.drop_index(batch_op.f('ix_clinical_import_created_at'))

    op.drop_table('clinical_import')
    op.drop_table('doctor_month_metric')
    with op.batch_alter_table('clinical_unknown_code', schema=None) as batch_op:
        batch_op.drop_index('ix_clinical_unknown_code_dictionary_code')

    op.drop_table('clinical_unknown_code')
    with op.batch_alter_table('clinical_stay_diagnosis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_stay_diagnosis_stay_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_stay_diagnosis_code'))

    op.drop_table('clinical_stay_diagnosis')
    with op.batch_alter_table('clinical_stay', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_stay_responsible_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_stay_patient_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_stay_discharged_at'))
        batch_op.drop_index('ix_clinical_stay_department_month')
        batch_op.drop_index('ix_clinical_stay_attending_month')
        batch_op.drop_index(batch_op.f('ix_clinical_stay_admission_no'))

    op.drop_table('clinical_stay')
    with op.batch_alter_table('clinical_record_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_record_event_stay_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_record_event_operation_id'))

    op.drop_table('clinical_record_event')
    op.drop_table('clinical_procedure')
    with op.batch_alter_table('clinical_prescription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_prescription_stay_id'))
        batch_op.drop_index('ix_clinical_prescription_prescriber_date')
        batch_op.drop_index(batch_op.f('ix_clinical_prescription_drug_code'))

    op.drop_table('clinical_prescription')
    with op.batch_alter_table('clinical_patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_patient_name'))
        batch_op.drop_index(batch_op.f('ix_clinical_patient_mrn'))

    op.drop_table('clinical_patient')
    with op.batch_alter_table('clinical_or_registration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_or_registration_stay_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_or_registration_operation_id'))

    op.drop_table('clinical_or_registration')
    with op.batch_alter_table('clinical_operation', schema=None) as batch_op:
        batch_op.drop_index('ix_clinical_operation_surgeon_month')
        batch_op.drop_index(batch_op.f('ix_clinical_operation_stay_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_operation_performed_at'))
        batch_op.drop_index('ix_clinical_operation_department_month')
        batch_op.drop_index(batch_op.f('ix_clinical_operation_code'))
        batch_op.drop_index(batch_op.f('ix_clinical_operation_assistant2_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_operation_assistant1_id'))

    op.drop_table('clinical_operation')
    op.drop_table('clinical_drug')
    op.drop_table('clinical_diagnosis')
    with op.batch_alter_table('clinical_complication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_complication_stay_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_complication_operation_id'))

    op.drop_table('clinical_complication')
