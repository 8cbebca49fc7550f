"""The curated prompt-injection pattern set, tuned for few false positives on ordinary support text.

Each pattern needs words a customer would not write to a support desk: an instruction aimed at
"the AI"/"the assistant", an order to drop *the* (not *my*) previous instructions, chat-template
role markers, jailbreak personas, text hidden from a human reader, or a link built to carry data out.
Base64 blobs are decoded and scanned again, since an instruction can hide in one.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache

# Words that name an AI system and not a person: "agent" and "assistant" alone are too often human.
_AI = (
    r"(?:ai|a\.i\.|ai\s+(?:assistant|agent|model|system)|llm|language\s+model|chat\s*bot|gpt|claude|copilot)"
)
_AI_OR_ASSISTANT = rf"(?:{_AI}|assistant|model)"
_PRIOR = r"(?:previous|prior|above|earlier|preceding|system)"
_ORDERS = r"(?:instructions?|prompts?|rules|directions|guidelines|guardrails|programming)"
_NOT_MINE = r"(?!\s+(?:i|we)\b)"  # "the previous instructions I gave" is a customer correcting themselves

Needs = tuple[tuple[str, ...], ...]
# Zero-width and Unicode tag characters: invisible to a reviewer, read by the model.
_INVISIBLE_RUN = r"[\u200b\u200c\u200d\u2060\ufeff\U000e0000-\U000e007f]{8,}"
_ABOVE_U200A = ("\x00above-u200a",)  # a marker: set when the text has characters from U+200B up
_AI_WORDS = (
    "ai",
    "a.i.",
    "llm",
    "language model",
    "chatbot",
    "chat bot",
    "gpt",
    "claude",
    "copilot",
    "assistant",
    "model",
)

# (name, regex over lower-cased text, keyword groups: each group needs one of its words present)
PATTERNS: tuple[tuple[str, str, Needs], ...] = (
    (
        "override_instructions",
        rf"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|every\s+)?(?:of\s+)?"
        rf"(?:the\s+|your\s+|these\s+|those\s+)?(?:{_PRIOR}\s+)+{_ORDERS}\b{_NOT_MINE}",
        (("ignore", "disregard", "forget"),),
    ),
    (
        "override_instructions",
        rf"\b(?:ignore|disregard|forget)\s+(?:all|everything)\s+(?:you\s+were\s+told|{_PRIOR}\b)",
        (("ignore", "disregard", "forget"),),
    ),
    (
        "override_instructions",
        r"\boverride\s+(?:your|the)\s+(?:system\s+)?(?:prompt|instructions|programming|guardrails)",
        (("override",),),
    ),
    (
        "new_instructions",
        r"\b(?:new|updated|real|actual)\s+system\s+(?:instructions?|prompt)\b",
        (("system",),),
    ),
    (
        "addressed_to_ai",
        rf"\b(?:system|admin|administrator|developer|hidden|important|urgent)?\s*(?:note|message|instruction|command|notice)s?"
        rf"\s+(?:to|for)\s+(?:the\s+|any\s+)?{_AI_OR_ASSISTANT}\b",
        (("note", "message", "instruction", "command", "notice"), _AI_WORDS),
    ),
    (
        "addressed_to_ai",
        rf"(?:^|[\n.!\[(])\s*(?:attention|dear|hey)\s+(?:the\s+)?{_AI}\s*[:,!]",
        (("attention", "dear", "hey"), _AI_WORDS),
    ),
    (
        "addressed_to_ai",
        rf"\b(?:if\s+you\s+are\s+an?\s+{_AI_OR_ASSISTANT}|as\s+an?\s+{_AI})\b[^.\n]{{0,60}}\b(?:you\s+must|must|should|need\s+to|have\s+to)\b",
        (("if you are a", "as a"), _AI_WORDS),
    ),
    (
        "role_marker",
        r"<\|\s*(?:im_start|im_end|system|endoftext)\s*\|>|\[/?(?:system|inst)\]|<<\s*sys\s*>>|^\s*#{2,}\s*system\s*(?:prompt|instructions?)?\s*:?\s*$",
        (("<|", "[system]", "[/system]", "[inst]", "[/inst]", "<<", "##"),),
    ),
    (
        "role_marker",
        r"(?:^|\n)\s*(?:system|assistant)\s*(?:prompt)?\s*:\s*(?:you\s+(?:are|must|will)|ignore|from\s+now\s+on)",
        (("system", "assistant"), (":",)),
    ),
    (
        "jailbreak",
        r"\b(?:do\s+anything\s+now|dan\s+mode|developer\s+mode\s+(?:enabled|on)|jailbr(?:oken|eak)\s+mode)\b",
        (("anything", "dan", "developer", "jailbr"),),
    ),
    (
        "jailbreak",
        r"\byou\s+are\s+(?:now\s+)?(?:no\s+longer\s+(?:an?\s+)?(?:ai|assistant|bound)|free\s+from\s+(?:all\s+)?(?:rules|restrictions|guidelines)|unrestricted|unfiltered)",
        (("unrestricted", "unfiltered", "no longer", "free from"),),
    ),
    (
        "jailbreak",
        r"\b(?:pretend|act|behave|roleplay|role-play)\s+(?:as\s+if\s+|like\s+|to\s+be\s+|as\s+)?[^.\n]{0,40}\b(?:with\s+no|without\s+(?:any\s+)?)\s*(?:restrictions|filters|content\s+polic(?:y|ies)|guardrails|ethics)",
        (("restriction", "filter", "polic", "guardrail", "ethics"),),
    ),
    (
        "reveal_prompt",
        r"\b(?:reveal|print|show|repeat|output|leak)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|hidden\s+)?(?:system\s+prompt|initial\s+instructions|hidden\s+instructions)",
        (("prompt", "instructions"),),
    ),
    (
        "hidden_text",
        r"<!--[^>]{0,400}?\b(?:ignore|instructions?|assistant|you\s+must|you\s+are\s+now)\b[^>]{0,400}?-->",
        (("<!--",),),
    ),
    (
        "hidden_text",
        r"(?:color\s*:\s*(?:white|#fff(?:fff)?\b|transparent)|font-size\s*:\s*0(?:px|pt|em)?\b|display\s*:\s*none)[^<>]{0,200}>[^<]{0,400}\b(?:ignore|instructions?|assistant|you\s+must)",
        (("color", "font-size", "display"),),
    ),
    ("hidden_text", _INVISIBLE_RUN, (_ABOVE_U200A,)),
    (
        "exfiltration",
        r"!\[[^\]]{0,100}\]\(\s*https?://[^)\s]{0,200}[?&][\w-]{1,30}=(?:\{\{|\{|%7b|\$|\[)[^)]{0,200}\)",
        (("![",),),
    ),
    (
        "exfiltration",
        r"https?://[^\s\"'<>]{1,200}[?&][\w-]{1,30}=(?:\{\{|%7b%7b|\$\{)[^\s\"'<>]{0,100}",
        (("http",), ("={{", "%7b%7b", "${")),
    ),
    (
        "exfiltration",
        r"\b(?:send|forward|post|upload|email|e-mail|exfiltrate|leak)\s+(?:all\s+|every\s+|the\s+)*(?:customer\s+|user\s+|account\s+|conversation\s+|chat\s+)*(?:data|records|history|conversation|emails|passwords|credentials|api\s+keys|tokens|secrets)\s+(?:of\s+all\s+\w+\s+)?to\s+(?:https?://|[\w.+-]+@)",
        (
            ("send", "forward", "post", "upload", "mail", "exfiltrate", "leak"),
            ("data", "records", "history", "conversation", "emails", "passwords", "credentials", "keys"),
            ("http", "@"),
        ),
    ),
    (
        "tool_coercion",
        rf"\b{_AI_OR_ASSISTANT}\s*[:,]\s*(?:please\s+)?(?:immediately\s+)?(?:call|invoke|run|use|execute)\s+(?:the\s+)?[\w.]+\s+(?:tool|function)",
        (("tool", "function"), _AI_WORDS),
    ),
)

_WORDS = tuple(
    sorted({word for _, _, needs in PATTERNS for group in needs for word in group} - {_ABOVE_U200A[0]})
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
_MAX_BLOBS = 4


@dataclass(frozen=True, slots=True)
class Finding:
    """One pattern match: which pattern, the text it matched (shortened), and whether it was decoded."""

    pattern: str
    text: str
    encoded: bool = False


class InjectionScanner:
    """Scans text for the curated patterns plus any extra ones from the runbook."""

    def __init__(self, extra: tuple[str, ...] | list[str] = ()) -> None:
        # The curated patterns are written in lower case and run on lower-cased text, each only when
        # its keywords are present: most text is rejected by a few substring tests, not by regexes.
        self.patterns = tuple(
            (name, re.compile(p, re.MULTILINE), tuple(frozenset(group) for group in needs))
            for name, p, needs in PATTERNS
        )
        self.extra = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in extra)

    def scan(self, text: str) -> Finding | None:
        """The first finding in ``text`` (patterns in their listed order), or None."""
        found = self._plain(text)
        if found is not None:
            return found
        if len(text) >= 40:
            for blob in _BASE64.findall(text)[:_MAX_BLOBS]:
                decoded = _decode(blob)
                if decoded is not None:
                    inner = self._plain(decoded)
                    if inner is not None:
                        return Finding(inner.pattern, inner.text, encoded=True)
        return None

    def _plain(self, text: str) -> Finding | None:
        low = text.lower()
        present = {word for word in _WORDS if word in low}
        if low and max(low) >= "\u200b":
            present.add(_ABOVE_U200A[0])
        if present:  # every curated pattern needs at least one keyword
            for name, pattern, needs in self.patterns:
                for group in needs:
                    if group.isdisjoint(present):
                        break
                else:
                    match = pattern.search(low)
                    if match is not None:
                        return _finding(name, match.group(0))
        for extra in self.extra:
            match = extra.search(text)
            if match is not None:
                return _finding("runbook_pattern", match.group(0))
        return None


def _finding(name: str, matched: str) -> Finding:
    return Finding(name, " ".join(matched.split())[:160])


def _decode(blob: str) -> str | None:
    """The blob as text when it decodes to mostly printable UTF-8; None for binary or noise."""
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    return text if text and printable / len(text) > 0.95 else None


@lru_cache(maxsize=64)
def scanner(extra: tuple[str, ...] = ()) -> InjectionScanner:
    """A shared scanner for this set of extra patterns (compiling the set is the costly part)."""
    return InjectionScanner(extra)
