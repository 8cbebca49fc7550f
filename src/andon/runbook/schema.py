"""The runbook as typed data: pydantic v2 models of the YAML shape in ``docs/contracts.md``.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored setting.
Durations and rates arrive as short strings (``15m``, ``10/min``) and become ``timedelta`` and
:class:`~andon.runbook.units.Rate`; ``to_document()`` writes them back in the same short form.
References between sections (contact ids, severity ids, tool names) are checked by
:func:`andon.runbook.refs.check_references`, which the loader runs after validation.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
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

from andon.runbook.detectors import Detectors
from andon.runbook.units import Rate, format_duration, parse_duration, parse_rate
from andon.runbook.vocabulary import (
    CHANGING_EFFECTS,
    Approval,
    Autonomy,
    ContactRole,
    DataClass,
    Effect,
    Evidence,
    LogLink,
    MemoryKind,
    RedactionBuiltin,
    RegimeId,
    SwitchScope,
)

FORMAT_VERSION = 1


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"expected a duration such as 15m, 1h or 3d, got {value!r}")


def _to_rate(value: Any) -> Rate:
    if isinstance(value, Rate):
        return value
    if isinstance(value, str):
        return parse_rate(value)
    raise ValueError(f"expected a rate such as 10/min or 30/10s, got {value!r}")


Duration = Annotated[
    timedelta,
    PlainValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+[smhdw])+$", "examples": ["15m", "1h", "3d"]}),
]
RateLimit = Annotated[
    Rate,
    PlainValidator(_to_rate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+/\S+$", "examples": ["10/min", "30/10s"]}),
]
# Ids are written by people and typed into commands (`andon pause support-triage`): keep them plain.
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
ContactId = Id
Text = Annotated[str, Field(min_length=1)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- organisation ----------------------------------------------------------------------------------
class Contact(Model):
    name: Text
    role: ContactRole
    email: str | None = None
    phone: str | None = None
    notes: str | None = None


class Organisation(Model):
    name: Text
    contacts: dict[Id, Contact] = Field(min_length=1)
    escalation: list[ContactId] = []


# -- severities and incident classes ---------------------------------------------------------------
class Severity(Model):
    id: Id
    name: Text
    definition: Text
    examples: list[Text] = []
    acknowledge_within: Duration
    contain_within: Duration | None = None
    resolve_within: Duration | None = None
    owner: ContactId | None = None
    page: list[ContactId] = []
    reminder_every: Duration | None = None


class ChecklistItem(Model):
    do: Text
    owner: str  # a contact role, or business_owner | technical_owner | communications_owner
    within: Duration | None = None


class IncidentClass(Model):
    id: Id  # one of vocabulary.INCIDENT_CLASSES unless ``custom: true``
    custom: bool = False
    description: str | None = None
    default_severity: Id
    owner_role: str
    containment: list[SwitchScope] = []
    evidence: list[Evidence] = []
    triage: list[Text] = []
    first_hour: list[ChecklistItem] = []


# -- regimes and redaction -------------------------------------------------------------------------
class Regime(Model):
    regime: RegimeId
    applies_to: list[DataClass] = Field(min_length=1)
    contact: ContactId
    notes: str | None = None


class RedactionPattern(Model):
    name: Id
    pattern: Text

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class Redaction(Model):
    # None (omitted) means every builtin rule; [] switches them off (see andon.control.redaction).
    builtin: list[RedactionBuiltin] | None = None
    patterns: list[RedactionPattern] = []


# -- workflows -------------------------------------------------------------------------------------
class Owners(Model):
    business: ContactId
    technical: ContactId
    communications: ContactId | None = None


class Credential(Model):
    id: Id
    system: Text
    scope: Text
    shared: bool = False  # a shared admin credential cannot be revoked for one workflow alone
    revoke: str | None = None  # how to revoke or rotate it, for people


class ModelRef(Model):
    provider: Text
    name: Text
    version: str | None = None


class Prompt(Model):
    id: Id
    version: Text
    location: str | None = None


class RetrievalSource(Model):
    id: Id
    system: Text
    data_classes: list[DataClass] = []
    restore: str | None = None  # how to rebuild or restore the index


class Memory(Model):
    kind: MemoryKind
    store: str | None = None
    purge: str | None = None  # how to purge poisoned memory


class Tool(Model):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$", max_length=200)]
    description: str | None = None
    effect: Effect
    systems: list[Text] = []
    data_classes: list[DataClass] = []
    credential: Id | None = None
    undo: str | None = None
    declared_reversible: bool | None = Field(default=None, alias="reversible")
    approval: Approval = "never"
    external: bool = False

    @model_validator(mode="after")
    def _undo_agrees_with_reversible(self) -> Tool:
        if self.undo and self.declared_reversible is False:
            raise ValueError(
                f"tool '{self.name}' declares an undo ('{self.undo}') and 'reversible: false'; keep one"
            )
        if self.declared_reversible is True and not self.undo and self.effect != "read":
            raise ValueError(f"tool '{self.name}' says 'reversible: true'; name the undo with 'undo:'")
        return self

    @property
    def changes_things(self) -> bool:
        """True for write, send, delete and spend: the effects a pause or a freeze must stop."""
        return self.effect in CHANGING_EFFECTS

    @property
    def reversible(self) -> bool:
        """Whether the action can be undone: reads always; others only when they declare an undo."""
        return self.effect == "read" or self.undo is not None


class RateLimits(Model):
    workflow: RateLimit | None = None
    tools: dict[str, RateLimit] = {}


class CircuitBreaker(Model):
    error_rate: float | None = Field(default=None, gt=0, le=1)
    window: Duration | None = None
    min_calls: int | None = Field(default=None, ge=1)
    consecutive_failures: int | None = Field(default=None, ge=1)
    burst: RateLimit | None = None


class Limits(Model):
    rate: RateLimits = RateLimits()
    circuit_breaker: CircuitBreaker | None = None
    confidence_threshold: float | None = Field(default=None, ge=0, le=1)
    max_retries: int | None = Field(default=None, ge=0)


class Fallback(Model):
    queue: Text
    contact: ContactId
    message: str | None = None


class Logging(Model):
    location: Text
    links: list[LogLink] = []
    retention: Duration | None = None
    export: str | None = None  # where a responder goes to export evidence


class Rollback(Model):
    """How to put each part back; free text for people, one line each."""

    prompt: str | None = None
    model: str | None = None
    ruleset: str | None = None
    records: str | None = None
    retrieval: str | None = None
    memory: str | None = None
    messages: str | None = None


class Drills(Model):
    cadence: Duration
    last: date | None = None
    scenarios: list[Text] = []


class Workflow(Model):
    id: Id
    name: str | None = None
    purpose: Text
    owners: Owners
    approvers: list[ContactId] = []
    systems: list[Text] = []
    data_classes: list[DataClass] = []
    credentials: list[Credential] = []
    model: ModelRef
    prompts: list[Prompt] = []
    retrieval_sources: list[RetrievalSource] = []
    memory: Memory = Memory(kind="none")
    tools: list[Tool] = []
    autonomy: Autonomy
    limits: Limits = Limits()
    kill_switch: list[SwitchScope] = []
    fallback: Fallback | None = None
    fail_closed: bool = True
    logging: Logging | None = None
    recovery: Text
    rollback: Rollback | None = None
    drills: Drills | None = None
    detectors: Detectors | None = None  # thresholds of the streaming detectors (docs/detectors.md)

    def tool(self, name: str) -> Tool:
        """The tool called ``name``; KeyError names the tools that exist."""
        for tool in self.tools:
            if tool.name == name:
                return tool
        known = ", ".join(t.name for t in self.tools) or "none"
        raise KeyError(f"workflow '{self.id}' has no tool '{name}' (tools: {known})")

    def rate_limit(self, tool: str) -> Rate | None:
        """The rate limit declared for one tool, if any."""
        return self.limits.rate.tools.get(tool)


# -- the whole runbook -----------------------------------------------------------------------------
class Runbook(Model):
    andon: Literal[1] = Field(description="format version")
    organisation: Organisation
    severities: list[Severity] = Field(min_length=1)
    incident_classes: list[IncidentClass] = []
    regimes: list[Regime] = []
    redaction: Redaction | None = None
    workflows: list[Workflow] = []

    def workflow(self, workflow_id: str) -> Workflow:
        """The workflow with this id; KeyError names the workflows that exist."""
        for workflow in self.workflows:
            if workflow.id == workflow_id:
                return workflow
        known = ", ".join(w.id for w in self.workflows) or "none"
        raise KeyError(f"no workflow '{workflow_id}' in the runbook (workflows: {known})")

    def severity(self, severity_id: str) -> Severity:
        for severity in self.severities:
            if severity.id == severity_id:
                return severity
        raise KeyError(f"no severity '{severity_id}' in the runbook")

    def incident_class(self, class_id: str) -> IncidentClass:
        for incident_class in self.incident_classes:
            if incident_class.id == class_id:
                return incident_class
        raise KeyError(f"no incident class '{class_id}' in the runbook")

    def contact(self, contact_id: str) -> Contact:
        try:
            return self.organisation.contacts[contact_id]
        except KeyError:
            raise KeyError(f"no contact '{contact_id}' in organisation.contacts") from None

    def to_document(self) -> dict[str, Any]:
        """Plain JSON-ready data in the YAML's own shape (durations and rates as short strings)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Runbook:
        """Rebuild a runbook from ``to_document()`` output, e.g. a stored revision."""
        return cls.model_validate(document)
