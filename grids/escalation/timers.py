"""When an escalation step is done waiting: plain decisions over plain delivery facts.

The SMS channel owns the outbox; it hands the domain what it knows of each message
of the current step as a `DeliveryFact`. A step escalates:

- when nobody acknowledged within its timeout, counted from when its message was
  **sent** (not queued);
- at once when every message of the step failed (failed or undelivered, suppressed
  because the number opted out or is invalid, refused by the provider);
- at once when a message was sent with no delivery report within
  `NO_REPORT_MINUTES` (providers without delivery reports count as delivered when sent);
- at once when a message is still unsent `UNSENT_MINUTES` after it was queued (the
  dispatcher or the provider is down).

The doctor step also calls the doctor when nobody acknowledged `call_after_minutes`
after the SMS was sent. A provider that reports call results (Aliyun, Tencent Cloud)
makes those calls count too: when every call of the step went unanswered (no answer,
busy, failed), has no result `NO_REPORT_MINUTES` after it was placed, or is still
unplaced `UNSENT_MINUTES` after it was queued, the step escalates at once
(`call_failed`, `call_no_report`, `call_unsent`). An answered call changes nothing:
the step waits for its acknowledgement as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from grids.escalation.ladder import Step

NO_REPORT_MINUTES = 5
UNSENT_MINUTES = 5

PENDING = frozenset({"pending", "sending"})
FAILED = frozenset({"failed", "undelivered", "suppressed"})
DELIVERED = "delivered"
SENT = "sent"

WAIT = "wait"
CALL = "call"
ESCALATE = "escalate"


@dataclass(frozen=True)
class DeliveryFact:
    """What the outbox knows of one message of a step."""

    key: str
    status: str
    queued_at: datetime
    sent_at: datetime | None = None
    reports_delivery: bool = True
    """The provider sends delivery reports (Twilio); console and memory do not."""
    error_code: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    @property
    def delivered(self) -> bool:
        return self.status == DELIVERED or (self.status == SENT and not self.reports_delivery)


@dataclass(frozen=True)
class Decision:
    action: str
    """`wait`, `call` (place the step's call) or `escalate`."""
    reason: str = ""
    """Why it escalates: `timeout`, `failed`, `no_report`, `unsent`, `nobody`, or the
    same of the step's calls, `call_failed`, `call_no_report`, `call_unsent`."""
    deadline: datetime | None = None
    """When the step times out, once its message was sent."""
    next_check: datetime | None = None
    """The next moment something may change without news from the provider."""


def first_sent(facts: Sequence[DeliveryFact]) -> datetime | None:
    sent = [fact.sent_at for fact in facts if fact.sent_at is not None]
    return min(sent) if sent else None


def _health(fact: DeliveryFact, now: datetime) -> tuple[str, datetime | None]:
    """(`ok` or why it is not, when that changes)."""
    if fact.failed:
        return "failed", None
    if fact.delivered:
        return "ok", None
    if fact.status in PENDING or fact.sent_at is None:
        limit = fact.queued_at + timedelta(minutes=UNSENT_MINUTES)
        return ("ok", limit) if now < limit else ("unsent", None)
    limit = fact.sent_at + timedelta(minutes=NO_REPORT_MINUTES)
    return ("ok", limit) if now < limit else ("no_report", None)


def _problems(facts: Sequence[DeliveryFact], now: datetime, checks: list[datetime]) -> list[str]:
    """What is wrong with each fact that is not fine; when the fine ones may change goes
    to `checks`."""
    problems: list[str] = []
    for fact in facts:
        health, changes_at = _health(fact, now)
        if health == "ok":
            if changes_at is not None:
                checks.append(changes_at)
        else:
            problems.append(health)
    return problems


def _worst(problems: Sequence[str]) -> str:
    return next(reason for reason in ("failed", "unsent", "no_report") if reason in problems)


def decide(
    step: Step,
    facts: Sequence[DeliveryFact],
    now: datetime,
    *,
    called: bool = False,
    calls: Sequence[DeliveryFact] = (),
) -> Decision:
    """What to do with a step whose messages are `facts` (none: nobody to reach) and
    whose placed calls, from a provider that reports their results, are `calls`."""
    if not facts:
        return Decision(ESCALATE, "nobody")
    checks: list[datetime] = []
    problems = _problems(facts, now, checks)
    sent = first_sent(facts)
    deadline = sent + timedelta(minutes=step.timeout_minutes) if sent is not None else None
    if len(problems) == len(facts):
        return Decision(ESCALATE, _worst(problems), deadline)
    call_problems = _problems(calls, now, checks)
    if calls and len(call_problems) == len(calls):
        return Decision(ESCALATE, f"call_{_worst(call_problems)}", deadline)
    if deadline is not None:
        if now >= deadline:
            return Decision(ESCALATE, "timeout", deadline)
        checks.append(deadline)
        if step.call_after_minutes is not None and not called:
            assert sent is not None
            call_at = sent + timedelta(minutes=step.call_after_minutes)
            if now >= call_at:
                return Decision(CALL, "", deadline, min(checks))
            checks.append(call_at)
    return Decision(WAIT, "", deadline, min(checks) if checks else None)
