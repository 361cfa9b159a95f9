"""The county's escalation policy, from its settings: the one place they are read."""

from __future__ import annotations

from config.settings import Settings
from grids.escalation.service import EscalationPolicy


def policy_of(settings: Settings) -> EscalationPolicy:
    """Each level's timeout (`ESCALATION_TIMEOUTS`), the bureau's duty phone
    (`COUNTY_DUTY_PHONE`) and the language of facility duty phones."""
    return EscalationPolicy(
        timeouts=settings.escalation_timeouts.as_dict(),
        county_duty_phone=settings.county_duty_phone,
        default_language=settings.default_language,
        critical_ack_hours=settings.critical.ack_hours,
        timezone=settings.timezone,
    )
