"""The jobs' ids, each written here once; `scheduling.registry` declares the jobs."""

from __future__ import annotations

EXCHANGE_REMINDERS = "exchange-reminders"
REPORT_PROMPTS = "report-prompts"
ATTENDANCE_PROMPTS = "attendance-prompts"
MEMBER_SILENCE = "member-silence"
DOCTOR_DIGEST = "doctor-digest"
ESCALATION_TICK = "escalation-tick"
OUTBOX_DISPATCH = "outbox-dispatch"
MAINLAND_RECONCILE = "mainland-reconcile"
CASE_FOLLOWTHROUGH = "case-followthrough"
PARTITIONS_AHEAD = "partitions-ahead"
RAW_TEXT_RETENTION = "raw-text-retention"
ROLLUPS_REFRESH = "rollups-refresh"
