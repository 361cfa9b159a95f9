"""Template-only sending for Aliyun and Tencent Cloud: our catalogue messages as provider templates.

Both mainland providers send only templates approved in advance, filled with
short variables. Each catalogue message we send (`SENT_TEMPLATES`) becomes one
provider template per language: the catalogue text with each `{param}` turned
into the provider's variable syntax (Aliyun `${grid}`, Tencent `{1}`). A
parameter that may be longer than the provider's variable limit becomes
several variables side by side (`${text_1}${text_2}`), and its value is split
to match when sent, so the handset shows the same text.

The ladder's calls through the providers' voice notification (`VOICE_BACKEND=aliyun|
tencent`) are approved templates too (`VOICE_TEMPLATES`), built the same way from
the catalogue and mapped under their `voice.*` names in the same file.

`SMS_TEMPLATE_MAP` (a JSON file the county fills in after approval) gives the
provider's id of each template: `{"aliyun": {"zh_CN": {"sms.urgent.doctor":
"SMS_123"}}, "tencent": {...}}`. `TemplatePolicy.check` runs when a message is
enqueued, so an unmapped template or a value too long fails there with a clear
error, never in the dispatcher at night.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from i18n import LANGUAGES, catalogue, normalise_language

RELAY_TEMPLATE = "sms.relay.reply"
"""The reply to an inbound SMS: one variable holding the reply text (see `relay_chunks`)."""
RELAY_LIMIT = 70
"""Characters of reply text per relay message: one Chinese segment."""

SENT_TEMPLATES: tuple[str, ...] = (
    "sms.test",
    "sms.notice.member_died",
    "sms.notice.exchange_moved",
    "sms.notice.exchange_skipped",
    "sms.notice.coordinator_opted_out",
    "sms.urgent.doctor",
    "sms.urgent.doctor_unclear",
    "sms.urgent.duty_member",
    "sms.urgent.duty_unclear",
    "sms.urgent.acknowledged",
    "sms.urgent.fallback",
    "sms.urgent.escalated",
    "sms.urgent.red_flag",
    "sms.urgent.county_duty",
    "sms.urgent.acknowledged_by",
    "sms.urgent.taken",
    RELAY_TEMPLATE,
    "sms.notice.exchange_moved_doctor",
    "sms.notice.exchange_skipped_doctor",
    "sms.exchange.reminder",
    "sms.exchange.coordinator",
    "sms.exchange.coordinator_visit",
    "sms.exchange.attendance_prompt",
    "sms.report.prompt",
    "sms.report.nudge",
    "sms.report.silence_doctor",
    "sms.member.silence",
    "sms.critical.doctor",
    "sms.critical.escalated",
    "sms.critical.county_duty",
    "sms.case.close_reminder",
    "sms.case.followup_due",
    "sms.admin.deputy_new",
    "sms.admin.deputy_released",
    "sms.admin.coordinator_deputy",
    "sms.admin.coordinator_joined",
    "sms.admin.doctor_members_joined",
)
"""Every catalogue message the service sends by SMS (a test checks the code names no other)."""

VOICE_TEMPLATES: tuple[str, ...] = ("voice.urgent",)
"""Every catalogue message the service speaks in a call (`voice.*` names in the map)."""

VOICE_SOURCES: dict[str, dict[str, str]] = {
    "aliyun": {"voice.urgent": "voice.urgent.reply_by_sms"},
}
"""The catalogue text a voice template is built from where it is not its own name:
Aliyun's `SingleCallByTts` is not documented to collect a key (its call report has a
`dtmf` field, but only IVR calls are said to fill it), so its call also tells the
listener to reply 收到 by SMS."""

PARAM_LIMITS: dict[str, int] = {
    "grid": 24,
    "seat": 2,
    "name": 16,
    "reporter": 16,
    "doctor": 16,
    "text": 60,
    "phone": 16,
    "code": 8,
    "date": 10,
    "weekday": 10,
    "time": 5,
    "facility": 12,
    "reason": 30,
    "who": 20,
    "minutes": 3,
    "reply": RELAY_LIMIT,
    "when": 8,
    "venue": 20,
    "confirmed": 3,
    "members": 3,
    "seats": 30,
    "weeks": 3,
    "count": 3,
    "grids": 40,
}
"""The longest value each parameter may carry, in characters: fixes how many provider
variables it needs. A longer value is refused at enqueue."""

BACKENDS = ("aliyun", "tencent")


class TemplateNotSendable(ValueError):
    """A message the configured provider cannot send: unmapped template or a value too long."""


@dataclass(frozen=True)
class ProviderTemplate:
    name: str
    language: str
    text: str
    """What to submit for approval, in the provider's variable syntax."""
    variables: tuple[str, ...]
    """The provider's variable names, in the order they appear."""
    parts: Mapping[str, int] = field(default_factory=dict)
    """How many variables each catalogue parameter is split into."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "text": self.text,
            "variables": list(self.variables),
        }


def _provider_text(text: str) -> str:
    # 【】 frame the signature the provider adds; a template may not contain them.
    return text.replace("【", "[").replace("】", "]")


def build_template(
    backend: str, name: str, language: str, variable_limit: int, source_name: str | None = None
) -> ProviderTemplate:
    """The provider template for catalogue message `name` in `language` (its text taken
    from `source_name` when given)."""
    if backend not in BACKENDS:
        raise ValueError(f"no provider templates for SMS_BACKEND={backend}")
    source = catalogue(language).messages[source_name or name]
    pieces: list[str] = []
    variables: list[str] = []
    parts: dict[str, int] = {}
    for literal, param, _, _ in string.Formatter().parse(source):
        pieces.append(_provider_text(literal))
        if param is None:
            continue
        if param not in PARAM_LIMITS:
            raise ValueError(f"parameter {param!r} of {name!r} has no length in PARAM_LIMITS")
        count = max(1, math.ceil(PARAM_LIMITS[param] / variable_limit))
        parts[param] = count
        names = [param] if count == 1 else [f"{param}_{index}" for index in range(1, count + 1)]
        for variable in names:
            variables.append(variable)
            if backend == "aliyun":
                pieces.append("${" + variable + "}")
            else:
                pieces.append("{" + str(len(variables)) + "}")
    return ProviderTemplate(name, language, "".join(pieces), tuple(variables), parts)


def all_templates(backend: str, variable_limit: int) -> list[ProviderTemplate]:
    return [
        build_template(backend, name, language, variable_limit)
        for language in LANGUAGES
        for name in SENT_TEMPLATES
    ]


def voice_templates(backend: str, variable_limit: int) -> list[ProviderTemplate]:
    sources = VOICE_SOURCES.get(backend, {})
    return [
        build_template(backend, name, language, variable_limit, sources.get(name))
        for language in LANGUAGES
        for name in VOICE_TEMPLATES
    ]


def split_value(value: str, parts: int, limit: int) -> list[str]:
    """`value` cut into `parts` pieces of at most `limit` characters, empty pieces last."""
    chunks = [value[start : start + limit] for start in range(0, len(value), limit)]
    return chunks + [""] * (parts - len(chunks))


def template_values(
    template: ProviderTemplate, params: Mapping[str, Any], variable_limit: int
) -> list[tuple[str, str]]:
    """(variable, value) pairs in template order; TemplateNotSendable if a value is too long."""
    values: list[tuple[str, str]] = []
    for param, count in template.parts.items():
        value = str(params.get(param, ""))
        if len(value) > count * variable_limit:
            raise TemplateNotSendable(
                f"SMS template {template.name!r}: parameter {param!r} has {len(value)} "
                f"characters, more than the {count} x {variable_limit} its provider template "
                f"holds; shorten it (at most {PARAM_LIMITS[param]} characters)"
            )
        names = [param] if count == 1 else [f"{param}_{i}" for i in range(1, count + 1)]
        values.extend(zip(names, split_value(value, count, variable_limit), strict=True))
    return values


def relay_chunks(reply: str) -> list[str]:
    """A reply cut into pieces that each fit one relay message."""
    text = reply.strip()
    return [text[start : start + RELAY_LIMIT] for start in range(0, len(text), RELAY_LIMIT)]


TemplateIds = dict[str, dict[str, dict[str, str]]]


def load_template_map(path: Path | None) -> TemplateIds:
    """The provider template ids of `SMS_TEMPLATE_MAP`; {} without one. ValueError says
    what is wrong with the file."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"SMS_TEMPLATE_MAP={path}: cannot read it as JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"SMS_TEMPLATE_MAP={path}: must be a JSON object keyed by provider")
    result: TemplateIds = {}
    for backend, languages in data.items():
        if not isinstance(languages, dict):
            raise ValueError(f"SMS_TEMPLATE_MAP={path}: {backend!r} must map languages to ids")
        result[backend] = {}
        for language, ids in languages.items():
            if not isinstance(ids, dict) or not all(
                isinstance(value, (str, int)) for value in ids.values()
            ):
                raise ValueError(
                    f"SMS_TEMPLATE_MAP={path}: {backend}.{language} must map template names "
                    'to provider ids, e.g. {"sms.urgent.doctor": "SMS_123"}'
                )
            result[backend][normalise_language(language)] = {
                str(name): str(value) for name, value in ids.items()
            }
    return result


@dataclass(frozen=True)
class Gap:
    name: str
    language: str

    def __str__(self) -> str:
        return f"{self.language} {self.name}"


@dataclass
class TemplatePolicy:
    """What the configured mainland backend can send: its templates and their ids."""

    backend: str
    variable_limit: int
    ids: TemplateIds
    names: tuple[str, ...] = SENT_TEMPLATES
    """The catalogue messages this policy sends: `SENT_TEMPLATES` by SMS, `VOICE_TEMPLATES`
    for calls."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Catalogue text of a template where it is not its own name (`VOICE_SOURCES`)."""
    _templates: dict[tuple[str, str], ProviderTemplate] = field(default_factory=dict, repr=False)

    def template(self, name: str, language: str) -> ProviderTemplate:
        key = (name, normalise_language(language))
        if key not in self._templates:
            if name not in self.names:
                raise TemplateNotSendable(
                    f"SMS template {name!r} is not one of the provider templates "
                    "(notifications/provider_templates.py SENT_TEMPLATES, VOICE_TEMPLATES): "
                    "add it there, submit it for approval and map it in SMS_TEMPLATE_MAP"
                )
            self._templates[key] = build_template(
                self.backend, name, key[1], self.variable_limit, self.sources.get(name)
            )
        return self._templates[key]

    def template_id(self, name: str, language: str) -> str:
        language = normalise_language(language)
        template_id = self.ids.get(self.backend, {}).get(language, {}).get(name)
        if not template_id:
            raise TemplateNotSendable(
                f"SMS template {name!r} ({language}) has no {self.backend} template id: "
                f"submit it for approval (flask --app wsgi outbox templates list) and add "
                f'"{name}" under "{self.backend}" → "{language}" in SMS_TEMPLATE_MAP'
            )
        return template_id

    def check(self, name: str, language: str, params: Mapping[str, Any]) -> None:
        """Raise TemplateNotSendable unless the provider can send this message."""
        template = self.template(name, language)
        self.template_id(name, language)
        template_values(template, params, self.variable_limit)

    def provider_values(
        self, name: str, language: str, params: Mapping[str, Any]
    ) -> tuple[str, list[tuple[str, str]]]:
        """The provider template id and its (variable, value) pairs for one message."""
        template = self.template(name, language)
        return self.template_id(name, language), template_values(
            template, params, self.variable_limit
        )

    def gaps(self) -> list[Gap]:
        mapped = self.ids.get(self.backend, {})
        return [
            Gap(name, language)
            for language in LANGUAGES
            for name in self.names
            if not mapped.get(language, {}).get(name)
        ]


def voice_policy(backend: str, variable_limit: int, ids: TemplateIds) -> TemplatePolicy:
    """The voice templates of a mainland voice backend, with the ids of the same map."""
    return TemplatePolicy(
        backend, variable_limit, ids, VOICE_TEMPLATES, VOICE_SOURCES.get(backend, {})
    )


@dataclass(frozen=True)
class ChannelTemplates:
    """What the outbox checks at enqueue: SMS templates against the SMS backend's policy,
    `voice.*` ones against the voice backend's; None sends free text (Twilio, console)."""

    sms: TemplatePolicy | None
    voice: TemplatePolicy | None

    def check(self, name: str, language: str, params: Mapping[str, Any]) -> None:
        policy = self.voice if name in VOICE_TEMPLATES else self.sms
        if policy is not None:
            policy.check(name, language, params)
