"""The ``detectors:`` section of a workflow: thresholds of each streaming detector, with defaults.

Every key is optional; an absent section means every detector runs with the defaults below.
``docs/detectors.md`` explains what each detector watches and emits; ``docs/runbook.md`` lists the keys.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from andon.runbook.units import format_duration, parse_duration


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {value!r}")


Window = Annotated[
    timedelta,
    PlainValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+[smhdw])+$", "examples": ["1m", "5m", "1h"]}),
]
Share = Annotated[float, Field(gt=0, le=1)]
DataKind = Literal["email", "phone", "card", "secret"]
_RECIPIENT_FIELDS = ["to", "recipient", "recipients", "email", "to_email", "address", "cc", "bcc"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class WriteRate(_Section):
    window: Window = timedelta(minutes=1)
    # Write/send/delete/spend attempts per window; by default 60, or none when a workflow rate is declared.
    max: int | None = Field(default=None, ge=1)
    limit_share: Share = 0.8  # also fire at this share of the declared workflow or tool rate limit


class RetryStorm(_Section):
    repeats: int = Field(default=5, ge=2)  # the same tool with the same arguments, this many times
    window: Window = timedelta(minutes=1)


class DuplicateEffects(_Section):
    window: Window = timedelta(hours=1)  # the same target and payload executed twice within it


class ErrorRate(_Section):
    rate: Share = 0.25
    window: Window = timedelta(minutes=5)
    min_calls: int = Field(default=20, ge=1)


class LowConfidence(_Section):
    threshold: float | None = Field(default=None, ge=0, le=1)  # default: limits.confidence_threshold or 0.5
    consecutive: int = Field(default=5, ge=1)
    count: int = Field(default=10, ge=1)  # ... or this many within the window
    window: Window = timedelta(minutes=10)


class Drift(_Section):
    label: str = Field(default="label", min_length=1)  # the output field holding the label
    alpha: float = Field(default=0.0001, gt=0, lt=1)
    min_shift: Share = 0.1  # smallest change in any label's share worth an incident
    min_samples: int = Field(default=100, ge=10)  # in the baseline and in the current window
    baseline: int = Field(default=500, ge=10)  # labels in the rolling baseline
    current: int = Field(default=200, ge=10)  # labels in the current window
    min_expected: float = Field(default=5.0, gt=0)  # cells expected below this are pooled
    check_every: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _windows_hold_enough(self) -> Drift:
        if self.min_samples > min(self.baseline, self.current):
            raise ValueError(
                f"min_samples ({self.min_samples}) must fit in both windows "
                f"(baseline {self.baseline}, current {self.current}); lower it or widen them"
            )
        return self


class Injection(_Section):
    patterns: list[str] = []  # extra regular expressions (case-insensitive) that mark an injection

    @field_validator("patterns")
    @classmethod
    def _compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return value


class OutboundData(_Section):
    kinds: list[DataKind] = ["email", "phone", "card", "secret"]
    allow: list[str] = []  # values never flagged, e.g. your own support address and phone number
    recipient_fields: list[str] = Field(default_factory=lambda: list(_RECIPIENT_FIELDS))


class WrongRecipient(_Section):
    recipient_fields: list[str] = Field(default_factory=lambda: list(_RECIPIENT_FIELDS))


class UnauthorisedTool(_Section):
    attempts: int = Field(default=1, ge=1)
    window: Window = timedelta(minutes=10)


class RubberStamp(_Section):
    streak: int = Field(default=20, ge=3)  # the approver's last decisions looked at
    approve_share: Share = 0.95
    fast_seconds: float = Field(default=10.0, gt=0)  # median time to decide below this is too fast


class Detectors(BaseModel):
    """Per-workflow detector thresholds; see docs/detectors.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cooldown: Window = timedelta(minutes=10)  # a repeat of the same signal within it is not sent again
    write_rate: WriteRate = WriteRate()
    retry_storm: RetryStorm = RetryStorm()
    duplicate_effects: DuplicateEffects = DuplicateEffects()
    error_rate: ErrorRate = ErrorRate()
    low_confidence: LowConfidence = LowConfidence()
    drift: Drift = Drift()
    prompt_injection: Injection = Injection()
    outbound_data: OutboundData = OutboundData()
    wrong_recipient: WrongRecipient = WrongRecipient()
    unauthorised_tool: UnauthorisedTool = UnauthorisedTool()
    rubber_stamp: RubberStamp = RubberStamp()
