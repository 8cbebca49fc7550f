"""The closed vocabularies of a runbook: effects, autonomy levels, switch scopes, failure modes, roles.

Each is a ``Literal`` (so the schema rejects typos and lists the valid words) plus a tuple of the same
words in a meaningful order, and a one-line human description where the rendered runbook needs one.
"""

from __future__ import annotations

from typing import Literal, get_args

Effect = Literal["read", "write", "send", "delete", "spend"]
EFFECTS: tuple[Effect, ...] = get_args(Effect)
# Effects that change something outside the agent; they are what a pause or freeze must stop.
CHANGING_EFFECTS: frozenset[str] = frozenset({"write", "send", "delete", "spend"})

Autonomy = Literal["observe", "advise", "act_with_approval", "autonomous"]
AUTONOMY_LEVELS: tuple[Autonomy, ...] = get_args(Autonomy)  # ordered, lowest first


def autonomy_rank(level: str) -> int:
    """Position of an autonomy level, lowest first: ``observe`` is 0, ``autonomous`` is 3."""
    names: tuple[str, ...] = AUTONOMY_LEVELS
    return names.index(level)


Approval = Literal["never", "always", "below_confidence"]
APPROVALS: tuple[Approval, ...] = get_args(Approval)

SwitchScope = Literal[
    "pause_workflow",
    "freeze_writes",
    "block_tool",
    "block_external_sends",
    "block_retrieval_source",
    "revoke_credential",
    "cap_autonomy",
]
SWITCH_SCOPES: tuple[SwitchScope, ...] = get_args(SwitchScope)
SWITCH_DESCRIPTIONS: dict[str, str] = {
    "pause_workflow": "stop every action of the workflow; work goes to the fallback",
    "freeze_writes": "stop write, delete and spend tools; reads and drafts continue",
    "block_tool": "stop one named tool",
    "block_external_sends": "stop anything sent outside the organisation: e-mail, messages, webhooks",
    "block_retrieval_source": "stop reading one retrieval source, e.g. a poisoned index or document set",
    "revoke_credential": "disable one service account or token",
    "cap_autonomy": "lower the autonomy level, e.g. to advise (drafts only) or observe (log only)",
}

IncidentClassId = Literal[
    "wrong_recommendation",
    "wrong_system_update",
    "sensitive_data_exposure",
    "model_or_prompt_drift",
    "prompt_injection",
    "memory_poisoning",
    "unauthorised_tool_use",
    "excessive_retries",
    "wrong_recipient",
    "privilege_escalation",
    "bad_output_approved",
    "loss_of_auditability",
]
INCIDENT_CLASSES: tuple[IncidentClassId, ...] = get_args(IncidentClassId)
INCIDENT_CLASS_NAMES: dict[str, str] = {
    "wrong_recommendation": "Wrong recommendation",
    "wrong_system_update": "Wrong system update",
    "sensitive_data_exposure": "Sensitive data exposure",
    "model_or_prompt_drift": "Model or prompt drift",
    "prompt_injection": "Prompt injection",
    "memory_poisoning": "Memory poisoning",
    "unauthorised_tool_use": "Unauthorised tool use",
    "excessive_retries": "Excessive retries",
    "wrong_recipient": "Wrong-recipient communication",
    "privilege_escalation": "Privilege escalation",
    "bad_output_approved": "Bad output accepted by an approver",
    "loss_of_auditability": "Loss of auditability",
}

ContactRole = Literal[
    "legal",
    "data_protection",
    "security",
    "operations",
    "communications",
    "vendor",
    "business",
    "technical",
    "executive",
]
CONTACT_ROLES: tuple[ContactRole, ...] = get_args(ContactRole)
# An incident class or checklist item may name the owner by the workflow's own owner map.
WORKFLOW_OWNER_ROLES: tuple[str, ...] = ("business_owner", "technical_owner", "communications_owner")
OWNER_ROLES: tuple[str, ...] = CONTACT_ROLES + WORKFLOW_OWNER_ROLES

DataClass = Literal[
    "public",
    "internal",
    "commercial",
    "personal",
    "special_category",
    "health",
    "payment",
    "financial",
    "regulated",
    "customer_communications",
    "credentials",
]
DATA_CLASSES: tuple[DataClass, ...] = get_args(DataClass)
# Classes that hold data about people; a breach of any of them can start a breach-notification clock.
PERSONAL_DATA_CLASSES: frozenset[str] = frozenset({"personal", "special_category", "health", "payment"})

Evidence = Literal[
    "conversation",
    "prompts",
    "system_instructions",
    "retrieval_results",
    "model_outputs",
    "confidence_scores",
    "tool_calls",
    "approvals",
    "user_overrides",
    "credentials_used",
    "downstream_logs",
    "errors",
    "retries",
    "memory_changes",
    "model_versions",
]
EVIDENCE_KINDS: tuple[Evidence, ...] = get_args(Evidence)

LogLink = Literal["input", "retrieval", "output", "approval", "action"]
LOG_LINKS: tuple[LogLink, ...] = get_args(LogLink)

RegimeId = Literal["uk_gdpr", "eu_gdpr", "eu_ai_act", "nis2", "dora", "sec_8k", "hipaa", "sg_pdpa", "cert_in"]
REGIME_IDS: tuple[RegimeId, ...] = get_args(RegimeId)

MemoryKind = Literal["none", "session", "persistent"]
MEMORY_KINDS: tuple[MemoryKind, ...] = get_args(MemoryKind)

RedactionBuiltin = Literal["email", "phone", "card", "iban", "secret", "ip_address", "national_id"]
REDACTION_BUILTINS: tuple[RedactionBuiltin, ...] = get_args(RedactionBuiltin)
