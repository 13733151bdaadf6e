"""Text the product writes into rows, shown in the reader's language.

The default playbook's rules, steps and templates, its queues and routing rules, the default
business calendar and SLA policies are rows with a name users may change; a completed call task
logs an interaction whose reason says which task it was; a model's training leaves a message.
Such text is stored in English, the stable form whatever language wrote it, and is marked for
translation where it is written (`gettext_noop`, or `gettext` under `translation.override("en")`
for text with figures in it); pages show it through `generated_text` (the `generated` template
filter), so switching the language switches it. Text a user typed is not in the catalogue and
is shown as typed.

Text with figures ("Follow-up call (task #42)") is recognised by its msgid, which the app that
writes it registers in `generated_formats`; a text made of several such sentences joined by a
space is translated sentence by sentence.
"""

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_noop

from callcenter.extensions import Registry

# Extension point: codes the apps above write into an interaction's outcome (a completed call
# task's outcome, e.g. "no_answer"), with their labels; each app registers its mapping
# (outreach: outreach.parts.interaction_outcomes). An outcome agents typed is shown as typed.
interaction_outcome_labels: Registry[Mapping[str, str | Promise]] = Registry(
    "interaction outcome labels"
)
# Extension point: msgids with placeholders of text the apps write into rows in English (their
# own modules register them: callcenter here, segments in segments.parts.generated_formats).
generated_formats: Registry[tuple[str, ...]] = Registry("generated texts with figures")

FOLLOW_UP_CALL_REASON = gettext_noop("Follow-up call (task #%(id)s)")
generated_formats.register("callcenter", (FOLLOW_UP_CALL_REASON,))

_PLACEHOLDER = re.compile(r"%\((\w+)\)([-+ #0]*\d*(?:\.\d+)?)([sdf])|%%")
_NUMBER = r"[-+]?\d+(?:\.\d+)?"


@cache
def _pattern(msgid: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """A regex matching `msgid` as formatted, and each placeholder's conversion (s, d, f)."""
    parts: list[str] = []
    kinds: dict[str, str] = {}
    position = 0
    for match in _PLACEHOLDER.finditer(msgid):
        parts.append(re.escape(msgid[position : match.start()]))
        if match.group(0) == "%%":
            parts.append("%")
        else:
            name, kind = match.group(1), match.group(3)
            kinds[name] = kind
            parts.append(f"(?P<{name}>{'.+?' if kind == 's' else _NUMBER})")
        position = match.end()
    parts.append(re.escape(msgid[position:]))
    return re.compile("".join(parts)), kinds


def _translated(sentence: str) -> str | None:
    """One generated sentence in the active language, or None when it is not one."""
    for formats in generated_formats:
        for msgid in formats:
            pattern, kinds = _pattern(msgid)
            match = pattern.fullmatch(sentence)
            if match is None:
                continue
            values: dict[str, Any] = {}
            for name, text in match.groupdict().items():
                kind = kinds[name]
                values[name] = int(text) if kind == "d" else float(text) if kind == "f" else text
            return gettext(msgid) % values
    return None


def generated_text(text: str) -> str:
    """`text` in the active language when it is generated text, else unchanged."""
    if not text:
        return text
    whole = _translated(text)
    if whole is not None:
        return whole
    # Sentences joined by a space ("Trained on …. Among customers who …"): split after a
    # full stop where both sides are generated sentences.
    for split in (m.end() for m in re.finditer(r"\. ", text)):
        head, tail = _translated(text[: split - 1]), generated_text(text[split:])
        if head is not None and tail != text[split:]:
            return f"{head}{tail}" if head.endswith(("。", "！")) else f"{head} {tail}"
    return gettext(text)


def interaction_outcome_text(outcome: str) -> str:
    """An interaction's outcome: the label of a code an app wrote, else as typed."""
    for labels in interaction_outcome_labels:
        if outcome in labels:
            return str(labels[outcome])
    return outcome
