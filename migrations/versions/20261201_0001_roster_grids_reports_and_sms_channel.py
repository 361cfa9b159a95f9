"""roster grids reports and sms channel

Revision ID: 0001
Revises:
Create Date: 2026-12-01 08:05:21.207600
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_code", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "change_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("undoes_id", sa.Integer(), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["undoes_id"], ["change_sets.id"], name=op.f("fk_change_sets_undoes_id_change_sets")
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"],
            ["change_sets.id"],
            name=op.f("fk_change_sets_undone_by_id_change_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_sets")),
    )
    with op.batch_alter_table("change_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_sets_at"), ["at"], unique=False)

    op.create_table(
        "early_delivery_statuses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_delivery_statuses")),
    )
    with op.batch_alter_table("early_delivery_statuses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_early_delivery_statuses_provider_sid"), ["provider_sid"], unique=False
        )

    op.create_table(
        "facilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "county_hospital",
                "tcm_hospital",
                "mch_center",
                "township_center",
                "community_center",
                "village_clinic",
                name="facility_level",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["facilities.id"], name=op.f("fk_facilities_parent_id_facilities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
        sa.UniqueConstraint("code", name=op.f("uq_facilities_code")),
    )
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_facilities_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("from_phone", sa.String(length=32), nullable=False),
        sa.Column("to_phone", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender_type", sa.String(length=16), nullable=True),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("command", sa.String(length=24), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_inbound_messages_message_sid")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_from_phone"), ["from_phone"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_attempts_remote_addr_at", ["remote_addr", "at"], unique=False
        )
        batch_op.create_index("ix_login_attempts_username_at", ["username", "at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("to_phone", sa.String(length=20), nullable=False),
        sa.Column("recipient_type", sa.String(length=16), nullable=True),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("template", sa.String(length=80), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=8), server_default="sms", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
        sa.UniqueConstraint("provider_sid", name=op.f("uq_outbox_provider_sid")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_claim", ["status", "urgent", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_to_phone"), ["to_phone"], unique=False)

    op.create_table(
        "rollup_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revisions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_snapshots")),
        sa.UniqueConstraint(
            "week", "level", "code", name=op.f("uq_rollup_snapshots_week_level_code")
        ),
    )
    with op.batch_alter_table("rollup_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollup_snapshots_week"), ["week"], unique=False)

    op.create_table(
        "scheduler_heartbeats",
        sa.Column("instance", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_scheduler_heartbeats")),
    )
    op.create_table(
        "scheduler_job_state",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=12), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_scheduler_job_state")),
    )
    op.create_table(
        "scheduler_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("slot", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("instance", sa.String(length=80), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_runs")),
        sa.UniqueConstraint("job_id", "slot", name=op.f("uq_scheduler_runs_job_id_slot")),
    )
    op.create_table(
        "sms_contacts",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opt_out_keyword", sa.String(length=24), nullable=True),
        sa.Column("invalid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invalid_code", sa.String(length=64), nullable=True),
        sa.Column("unknown_sender_replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_contacts")),
    )
    op.create_table(
        "doctors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "suspended",
                "retired",
                name="doctor_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_doctors_facility_id_facilities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctors")),
        sa.UniqueConstraint("code", name=op.f("uq_doctors_code")),
        sa.UniqueConstraint("phone", name=op.f("uq_doctors_phone")),
    )
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_doctors_facility_id"), ["facility_id"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("primary_condition", sa.String(length=32), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("volunteer", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "hospitalised",
                "moved_away",
                "deceased",
                "inactive",
                name="patient_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("died_on", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_patients_facility_id_facilities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("code", name=op.f("uq_patients_code")),
        sa.UniqueConstraint("phone", name=op.f("uq_patients_phone")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_facility_id"), ["facility_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_patients_primary_condition"), ["primary_condition"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_patients_status"), ["status"], unique=False)

    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=32), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("coordinator_id", sa.Integer(), nullable=True),
        sa.Column("exchange_weekday", sa.SmallInteger(), nullable=True),
        sa.Column("exchange_time", sa.Time(), nullable=True),
        sa.Column("exchange_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("exchange_venue", sa.String(length=120), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "exchange_weekday IS NULL OR (exchange_weekday BETWEEN 0 AND 6)",
            name=op.f("ck_grids_weekday"),
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"], ["patients.id"], name=op.f("fk_grids_coordinator_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_grids_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_grids_facility_id_facilities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("code", name=op.f("uq_grids_code")),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grids_condition"), ["condition"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_grids_coordinator_id"), ["coordinator_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_grids_doctor_id"), ["doctor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grids_facility_id"), ["facility_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(role = 'doctor') = (doctor_id IS NOT NULL)", name=op.f("ck_users_doctor_scope")
        ),
        sa.CheckConstraint(
            "(role = 'township') = (facility_id IS NOT NULL)", name=op.f("ck_users_township_scope")
        ),
        sa.CheckConstraint("role IN ('admin', 'township', 'doctor')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_users_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_users_facility_id_facilities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_users_token_hash")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_doctor_id"), ["doctor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_facility_id"), ["facility_id"], unique=False)

    op.create_table(
        "doctor_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("rota_week", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_doctor_visits_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_doctor_visits_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor_visits")),
        sa.UniqueConstraint("grid_id", name=op.f("uq_doctor_visits_grid_id")),
    )
    with op.batch_alter_table("doctor_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_doctor_visits_doctor_id"), ["doctor_id"], unique=False)

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("seat", sa.SmallInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("red_flag", sa.Boolean(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("ladder", sa.JSON(), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("called", sa.Boolean(), nullable=False),
        sa.Column("duty_alerted_round", sa.SmallInteger(), nullable=False),
        sa.Column("deliveries", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
        sa.Column("acknowledged_by_kind", sa.String(length=16), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_by_phone", sa.String(length=20), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_escalations_grid_id_grids")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_escalations_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["patients.id"], name=op.f("fk_escalations_reporter_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index("ix_escalations_code", ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalations_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index("ix_escalations_state_next", ["state", "next_step_at"], unique=False)
        batch_op.create_index(
            "uq_escalations_open_patient",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("state = 'open' AND patient_id IS NOT NULL"),
            postgresql_where=sa.text("state = 'open' AND patient_id IS NOT NULL"),
        )

    op.create_table(
        "exchange_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("headcount", sa.SmallInteger(), nullable=False),
        sa.Column("seats", sa.JSON(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_exchange_attendance_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_attendance")),
        sa.UniqueConstraint("grid_id", "week", name=op.f("uq_exchange_attendance_grid_id_week")),
    )
    op.create_table(
        "exchange_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_exchange_confirmations_grid_id_grids")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_exchange_confirmations_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_confirmations")),
        sa.UniqueConstraint(
            "grid_id",
            "week",
            "patient_id",
            name=op.f("uq_exchange_confirmations_grid_id_week_patient_id"),
        ),
    )
    op.create_table(
        "exchange_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_exchange_overrides_grid_id_grids")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["patients.id"],
            name=op.f("fk_exchange_overrides_requested_by_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_overrides")),
        sa.UniqueConstraint("grid_id", "week", name=op.f("uq_exchange_overrides_grid_id_week")),
    )
    op.create_table(
        "exchange_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_exchange_preferences_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_preferences")),
        sa.UniqueConstraint("grid_id", name=op.f("uq_exchange_preferences_grid_id")),
    )
    op.create_table(
        "member_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("last_news_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("named_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_member_silences_grid_id_grids")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_member_silences_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_silences")),
        sa.UniqueConstraint(
            "patient_id", "last_news_at", name=op.f("uq_member_silences_patient_id_last_news_at")
        ),
    )
    with op.batch_alter_table("member_silences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_silences_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("seat", sa.SmallInteger(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint("seat BETWEEN 1 AND 20", name=op.f("ck_memberships_seat_range")),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_memberships_grid_id_grids")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_memberships_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "uq_memberships_current_patient",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )
        batch_op.create_index(
            "uq_memberships_current_seat",
            ["grid_id", "seat"],
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )

    op.create_table(
        "readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("systolic", sa.SmallInteger(), nullable=True),
        sa.Column("diastolic", sa.SmallInteger(), nullable=True),
        sa.Column("glucose_mmol", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.CheckConstraint("kind IN ('bp', 'glucose')", name=op.f("ck_readings_kind")),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_readings_grid_id_grids")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_readings_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sa.UniqueConstraint(
            "patient_id", "week", "kind", name=op.f("uq_readings_patient_id_week_kind")
        ),
    )
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_readings_grid_id"), ["grid_id"], unique=False)

    op.create_table(
        "report_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("since_week", sa.String(length=8), nullable=False),
        sa.Column("doctor_told_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_week", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_report_silences_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_silences")),
        sa.UniqueConstraint(
            "grid_id", "since_week", name=op.f("uq_report_silences_grid_id_since_week")
        ),
    )
    with op.batch_alter_table("report_silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_silences_grid_id"), ["grid_id"], unique=False)

    op.create_table(
        "weekly_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=True),
        sa.Column("all_stable", sa.Boolean(), nullable=False),
        sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revisions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["patients.id"],
            name=op.f("fk_weekly_reports_coordinator_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_weekly_reports_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_reports")),
        sa.UniqueConstraint("grid_id", "week", name=op.f("uq_weekly_reports_grid_id_week")),
    )
    op.create_table(
        "escalation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=True),
        sa.Column("round", sa.SmallInteger(), nullable=True),
        sa.Column("recipient", sa.String(length=32), nullable=True),
        sa.Column("recipient_name", sa.String(length=120), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_escalation_events_escalation_id_escalations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_events")),
    )
    with op.batch_alter_table("escalation_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escalation_events_escalation_id"), ["escalation_id"], unique=False
        )

    op.create_table(
        "member_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weekly_report_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("seat", sa.SmallInteger(), nullable=False),
        sa.Column("hospitalised", sa.Boolean(), nullable=False),
        sa.Column("discharged", sa.Boolean(), nullable=False),
        sa.Column("missed_medication", sa.Boolean(), nullable=False),
        sa.Column("died", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_member_reports_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["weekly_report_id"],
            ["weekly_reports.id"],
            name=op.f("fk_member_reports_weekly_report_id_weekly_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_reports")),
        sa.UniqueConstraint(
            "weekly_report_id",
            "patient_id",
            name=op.f("uq_member_reports_weekly_report_id_patient_id"),
        ),
    )
    with op.batch_alter_table("member_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_reports_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_member_reports_weekly_report_id"), ["weekly_report_id"], unique=False
        )

    op.create_table(
        "urgent_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("seat", sa.SmallInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("red_flag", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["doctors.id"],
            name=op.f("fk_urgent_reports_acknowledged_by_id_doctors"),
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_urgent_reports_escalation_id_escalations"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_urgent_reports_grid_id_grids")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_urgent_reports_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["patients.id"], name=op.f("fk_urgent_reports_reporter_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_urgent_reports")),
    )
    with op.batch_alter_table("urgent_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_urgent_reports_escalation_id"), ["escalation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_urgent_reports_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_urgent_reports_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_urgent_reports_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            "uq_urgent_reports_open_code",
            ["code"],
            unique=True,
            sqlite_where=sa.text("acknowledged_at IS NULL"),
            postgresql_where=sa.text("acknowledged_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("urgent_reports", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_urgent_reports_open_code",
            sqlite_where=sa.text("acknowledged_at IS NULL"),
            postgresql_where=sa.text("acknowledged_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_urgent_reports_received_at"))
        batch_op.drop_index(batch_op.f("ix_urgent_reports_patient_id"))
        batch_op.drop_index(batch_op.f("ix_urgent_reports_grid_id"))
        batch_op.drop_index(batch_op.f("ix_urgent_reports_escalation_id"))

    op.drop_table("urgent_reports")
    with op.batch_alter_table("member_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_reports_weekly_report_id"))
        batch_op.drop_index(batch_op.f("ix_member_reports_patient_id"))

    op.drop_table("member_reports")
    with op.batch_alter_table("escalation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_events_escalation_id"))

    op.drop_table("escalation_events")
    op.drop_table("weekly_reports")
    with op.batch_alter_table("report_silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_silences_grid_id"))

    op.drop_table("report_silences")
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_readings_grid_id"))

    op.drop_table("readings")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_memberships_current_seat",
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )
        batch_op.drop_index(
            "uq_memberships_current_patient",
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_memberships_patient_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_grid_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("member_silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_silences_patient_id"))

    op.drop_table("member_silences")
    op.drop_table("exchange_preferences")
    op.drop_table("exchange_overrides")
    op.drop_table("exchange_confirmations")
    op.drop_table("exchange_attendance")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_escalations_open_patient",
            sqlite_where=sa.text("state = 'open' AND patient_id IS NOT NULL"),
            postgresql_where=sa.text("state = 'open' AND patient_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_escalations_state_next")
        batch_op.drop_index(batch_op.f("ix_escalations_grid_id"))
        batch_op.drop_index("ix_escalations_code")

    op.drop_table("escalations")
    with op.batch_alter_table("doctor_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_doctor_visits_doctor_id"))

    op.drop_table("doctor_visits")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_facility_id"))
        batch_op.drop_index(batch_op.f("ix_users_doctor_id"))

    op.drop_table("users")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_facility_id"))
        batch_op.drop_index(batch_op.f("ix_grids_doctor_id"))
        batch_op.drop_index(batch_op.f("ix_grids_coordinator_id"))
        batch_op.drop_index(batch_op.f("ix_grids_condition"))

    op.drop_table("grids")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_status"))
        batch_op.drop_index(batch_op.f("ix_patients_primary_condition"))
        batch_op.drop_index(batch_op.f("ix_patients_facility_id"))

    op.drop_table("patients")
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_doctors_facility_id"))

    op.drop_table("doctors")
    op.drop_table("sms_contacts")
    op.drop_table("scheduler_runs")
    op.drop_table("scheduler_job_state")
    op.drop_table("scheduler_heartbeats")
    with op.batch_alter_table("rollup_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollup_snapshots_week"))

    op.drop_table("rollup_snapshots")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_to_phone"))
        batch_op.drop_index("ix_outbox_claim")

    op.drop_table("outbox")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_username_at")
        batch_op.drop_index("ix_login_attempts_remote_addr_at")

    op.drop_table("login_attempts")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_received_at"))
        batch_op.drop_index(batch_op.f("ix_inbound_messages_from_phone"))

    op.drop_table("inbound_messages")
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_facilities_parent_id"))

    op.drop_table("facilities")
    with op.batch_alter_table("early_delivery_statuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_early_delivery_statuses_provider_sid"))

    op.drop_table("early_delivery_statuses")
    with op.batch_alter_table("change_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_sets_at"))

    op.drop_table("change_sets")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
