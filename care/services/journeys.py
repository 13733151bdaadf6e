"""Journeys: the steps of a rule as a graph that branches on outcomes.

A step names itself by `key` (a slug, unique within the rule; "step-<position>" when none is
given). A step without a wait goes on to `next_step`: "" for the following step (none after the
last: the journey ends), "end", or a step's key. A step with a wait (`wait_for`) waits for that
outcome at most `wait_hours` (1..720) after it falls due, then takes the first of its
`branches` that matches: `{"if": {...}, "goto": key | "end"}`, and exactly one
`{"if": "timeout", "goto": ...}` taken when the limit passes without a matching outcome.

What a branch may match, by what the step waits for:
- sms_reply: {"any": true} or {"keywords": [...]} (case-insensitive, any language: a keyword
  matches when the reply contains it, so "还款" matches "我明天还款");
- call_result: one of {"results": [...]}, {"intents": [...]}, {"keypresses": [...]}, the
  values known to the app that places the calls (`outcome_values`);
- task_outcome: {"outcomes": [...]} (the outcomes an agent records on a call task);
- external_event: {"name": "..."} (an event another system posts to the events API);
- link_click, order_placed, ticket_resolved: {"any": true}.

A journey is checked as a whole (`journey_validate`) before a rule is saved: every goto names a
step or "end", every wait has a limit and a timeout branch, no path loops, every step is
reachable from the first. An error names the path of the bad node, e.g.
"steps[2].branches[1].goto". This module only reads and checks definitions; running journeys
is care.services.journey_runs.
"""

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.extensions import Registry
from care.choices import EventType, WaitFor

END = "end"
TIMEOUT = "timeout"
MAX_WAIT_HOURS = 720
MAX_BRANCHES = 10
MAX_MATCH_VALUES = 20
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
RESERVED_KEYS = frozenset({END, TIMEOUT})

# The events that report each outcome a step may wait for.
WAIT_EVENTS: dict[str, frozenset[str]] = {
    WaitFor.SMS_REPLY: frozenset({EventType.CUSTOMER_REPLIED}),
    WaitFor.LINK_CLICK: frozenset({EventType.LINK_CLICKED}),
    WaitFor.CALL_RESULT: frozenset({EventType.CALL_RESULT}),
    WaitFor.TASK_OUTCOME: frozenset({EventType.TASK_OUTCOME}),
    WaitFor.ORDER_PLACED: frozenset({EventType.ORDER_PLACED, EventType.FIRST_ORDER}),
    WaitFor.TICKET_RESOLVED: frozenset({EventType.TICKET_RESOLVED}),
    WaitFor.EXTERNAL_EVENT: frozenset({EventType.EXTERNAL}),
}
# Event types that may move a waiting journey on.
OUTCOME_EVENTS = frozenset().union(*WAIT_EVENTS.values())
# Outcomes reported about one task of the enrollment: they count only for the waiting step's own
# task (payload "enrollment_id" and "step_position").
TASK_EVENTS = frozenset({EventType.CALL_RESULT, EventType.TASK_OUTCOME, EventType.LINK_CLICKED})

# name -> {"<wait_for>.<match key>": [(value, label), ...]}: what the app carrying out steps
# reports (outreach: call results, intents and task outcomes; outreach/parts/care_outcomes.py).
outcome_values: Registry[dict[str, list[tuple[str, Any]]]] = Registry("care journey outcome values")


def outcome_labels(kind: str, name: str) -> dict[str, Any]:
    """The values a match `name` of outcome `kind` may list, with their readable labels."""
    labels: dict[str, Any] = {}
    for part in outcome_values:
        labels.update(part.get(f"{kind}.{name}", []))
    return labels


def _allowed(kind: str, name: str) -> list[str]:
    return list(outcome_labels(kind, name))


def _error(message: str, path: str) -> ApplicationError:
    return ApplicationError(f"{path}: {message}", extra={"field": path.split(".")[0], "path": path})


# ---------------------------------------------------------------------------------------------
# Reading a definition (a version's steps, or steps being checked)


def step_key(step: dict[str, Any]) -> str:
    """A step's key; steps saved before journeys are named by their position."""
    return step.get("key") or f"step-{step['position']}"


def step_waits(step: dict[str, Any]) -> bool:
    return bool(step.get("wait_for"))


def _successors(steps: list[dict[str, Any]], index: int) -> list[tuple[str, str]]:
    """(goto, path of the edge) of each way on from steps[index]."""
    step = steps[index]
    if step_waits(step):
        return [
            (branch["goto"], f"steps[{index}].branches[{number}].goto")
            for number, branch in enumerate(step.get("branches") or [])
        ]
    following = step_key(steps[index + 1]) if index + 1 < len(steps) else END
    return [(step.get("next_step") or following, f"steps[{index}].next_step")]


def journey_chain(steps: list[dict[str, Any]], start: str | None = None) -> list[dict[str, Any]]:
    """The steps to plan from `start` (a key; None for the first step) on: each step's next in
    turn, up to and including the first step that waits, or to the end. A checked journey has
    no loop; a bound guards an unchecked one."""
    if not steps or start == END:
        return []
    index_of = {step_key(step): index for index, step in enumerate(steps)}
    index: int | None = 0 if start is None else index_of.get(start)
    chain: list[dict[str, Any]] = []
    while index is not None and len(chain) < len(steps):
        step = steps[index]
        chain.append(step)
        if step_waits(step):
            break
        goto, _path = _successors(steps, index)[0]
        index = index_of.get(goto)
    return chain


def step_by_key(steps: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((step for step in steps if step_key(step) == key), None)


def timeout_goto(step: dict[str, Any]) -> str:
    """Where a wait goes when its limit passes (the end when a definition has no timeout)."""
    for branch in step.get("branches") or []:
        if branch.get("if") == TIMEOUT:
            return str(branch["goto"])
    return END


def _fold(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text)).casefold().strip()


def _matches(kind: str, match: dict[str, Any], event_type: str, payload: dict[str, Any]) -> bool:
    if match.get("any") is True:
        return True
    if kind == WaitFor.SMS_REPLY:
        text = _fold(payload.get("text") or "")
        return any(_fold(word) in text for word in match.get("keywords", []))
    if kind == WaitFor.EXTERNAL_EVENT:
        return payload.get("name") == match.get("name")
    fields = {"results": "result", "intents": "intent", "keypresses": "keypress"}
    if kind == WaitFor.TASK_OUTCOME:
        fields = {"outcomes": "outcome"}
    return all(payload.get(fields[name]) in values for name, values in match.items())


def branch_taken(
    *,
    step: dict[str, Any],
    enrollment_id: int,
    event_type: str,
    payload: dict[str, Any],
) -> str | None:
    """The goto of the first branch of a waiting step this event matches, or None (the
    journey keeps waiting). Outcomes of a task count only for the waiting step's own task."""
    kind = step.get("wait_for") or ""
    if event_type not in WAIT_EVENTS.get(kind, frozenset()):
        return None
    if event_type in TASK_EVENTS or "enrollment_id" in payload:
        if payload.get("enrollment_id") != enrollment_id:
            return None
        position = payload.get("step_position")
        if event_type in TASK_EVENTS and position is not None and position != step["position"]:
            return None
    for branch in step.get("branches") or []:
        match = branch.get("if")
        if isinstance(match, dict) and _matches(kind, match, event_type, payload):
            return str(branch["goto"])
    return None


# ---------------------------------------------------------------------------------------------
# Checking a definition


def _value_list(value: Any, path: str, allowed: list[str] | None = None) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_MATCH_VALUES
        or not all(isinstance(item, str) and item.strip() for item in value)
    ):
        raise _error(
            _("give a list of 1 to %(max)d non-empty texts") % {"max": MAX_MATCH_VALUES}, path
        )
    if allowed is not None:
        unknown = [item for item in value if item not in allowed]
        if unknown:
            raise _error(
                _("unknown value %(value)s; use %(allowed)s")
                % {"value": unknown[0], "allowed": ", ".join(allowed)},
                path,
            )
    return [item.strip() for item in value]


def _match_any(match: dict[str, Any], path: str) -> dict[str, Any]:
    if match != {"any": True}:
        raise _error(_('this outcome matches {"any": true} only'), path)
    return match


def _match_sms(match: dict[str, Any], path: str) -> dict[str, Any]:
    if "keywords" in match and set(match) == {"keywords"}:
        return {"keywords": _value_list(match["keywords"], f"{path}.keywords")}
    if match == {"any": True}:
        return match
    raise _error(_('an SMS reply matches {"any": true} or {"keywords": [...]}'), path)


def _match_call(match: dict[str, Any], path: str) -> dict[str, Any]:
    names = ("results", "intents", "keypresses")
    # One kind per branch (as the editor's rows show them): list a branch per kind instead.
    if len(match) != 1 or set(match) - set(names):
        raise _error(
            _("a call result matches one of %(names)s") % {"names": ", ".join(names)}, path
        )
    return {
        name: _value_list(
            match[name],
            f"{path}.{name}",
            None if name == "keypresses" else _allowed(WaitFor.CALL_RESULT, name),
        )
        for name in names
        if name in match
    }


def _match_task(match: dict[str, Any], path: str) -> dict[str, Any]:
    if set(match) != {"outcomes"}:
        raise _error(_('a task outcome matches {"outcomes": [...]}'), path)
    allowed = _allowed(WaitFor.TASK_OUTCOME, "outcomes")
    return {"outcomes": _value_list(match["outcomes"], f"{path}.outcomes", allowed)}


def _match_external(match: dict[str, Any], path: str) -> dict[str, Any]:
    name = match.get("name")
    if set(match) != {"name"} or not isinstance(name, str) or not name.strip():
        raise _error(_('an event from another system matches {"name": "..."}'), path)
    return {"name": name.strip()}


MATCH_CHECKS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    WaitFor.SMS_REPLY: _match_sms,
    WaitFor.LINK_CLICK: _match_any,
    WaitFor.CALL_RESULT: _match_call,
    WaitFor.TASK_OUTCOME: _match_task,
    WaitFor.ORDER_PLACED: _match_any,
    WaitFor.TICKET_RESOLVED: _match_any,
    WaitFor.EXTERNAL_EVENT: _match_external,
}


def _goto_clean(goto: Any, keys: dict[str, int], path: str) -> str:
    if not isinstance(goto, str) or not goto:
        raise _error(_('a branch needs a step key or "end" to go to'), path)
    if goto != END and goto not in keys:
        raise _error(_("no step has the key %(key)s") % {"key": goto}, path)
    return goto


def _branches_clean(step: dict[str, Any], index: int, keys: dict[str, int]) -> list[dict]:
    kind = step["wait_for"]
    path = f"steps[{index}].branches"
    branches = step.get("branches")
    if not isinstance(branches, list) or not branches or len(branches) > MAX_BRANCHES:
        raise _error(
            _("a step that waits needs 1 to %(max)d branches") % {"max": MAX_BRANCHES}, path
        )
    cleaned = []
    for number, branch in enumerate(branches):
        here = f"{path}[{number}]"
        if not isinstance(branch, dict) or set(branch) - {"if", "goto"} or "if" not in branch:
            raise _error(_('a branch is {"if": ..., "goto": ...}'), here)
        match = branch["if"]
        if match != TIMEOUT:
            if not isinstance(match, dict):
                raise _error(_('a branch matches an outcome ({...}) or "timeout"'), f"{here}.if")
            match = MATCH_CHECKS[kind](match, f"{here}.if")
        cleaned.append({"if": match, "goto": _goto_clean(branch.get("goto"), keys, f"{here}.goto")})
    if sum(1 for branch in cleaned if branch["if"] == TIMEOUT) != 1:
        raise _error(
            _('a wait needs exactly one "timeout" branch (where to go when the limit passes)'),
            path,
        )
    return cleaned


def _step_clean(step: dict[str, Any], index: int, keys: dict[str, int]) -> None:
    label = f"steps[{index}]"
    if not step_waits(step):
        if step.get("branches"):
            raise _error(_("only a step that waits has branches"), f"{label}.branches")
        if step.get("wait_hours") is not None:
            raise _error(_("only a step that waits has a limit"), f"{label}.wait_hours")
        goto = step.get("next_step") or ""
        if goto and goto != END and goto not in keys:
            raise _error(_("no step has the key %(key)s") % {"key": goto}, f"{label}.next_step")
        return
    hours = step.get("wait_hours")
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_WAIT_HOURS:
        raise _error(
            _("a wait needs a limit of 1 to %(max)d hours") % {"max": MAX_WAIT_HOURS},
            f"{label}.wait_hours",
        )
    if step.get("next_step"):
        raise _error(_("a step that waits goes on by its branches"), f"{label}.next_step")
    step["branches"] = _branches_clean(step, index, keys)


def _loop_check(steps: list[dict[str, Any]], keys: dict[str, int]) -> None:
    """Depth-first from every step: an edge back to a step on the current path closes a loop."""
    done: set[int] = set()
    for root in range(len(steps)):
        if root in done:
            continue
        on_path = {root}
        stack = [(root, iter(_successors(steps, root)))]
        while stack:
            index, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                stack.pop()
                on_path.discard(index)
                done.add(index)
                continue
            goto, path = edge
            target = keys.get(goto)
            if target is None or target in done:
                continue
            if target in on_path:
                raise _error(
                    _("this goes back to steps[%(index)d] (%(key)s): a journey may not loop")
                    % {"index": target, "key": goto},
                    path,
                )
            on_path.add(target)
            stack.append((target, iter(_successors(steps, target))))


def _reach_check(steps: list[dict[str, Any]], keys: dict[str, int]) -> None:
    seen, todo = {0}, [0]
    while todo:
        for goto, _path in _successors(steps, todo.pop()):
            target = keys.get(goto)
            if target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    for index in range(len(steps)):
        if index not in seen:
            raise _error(_("no path from the first step leads to this step"), f"steps[{index}]")


def journey_validate(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check the journey of a list of steps (each already checked field by field, with its
    position) and fill their keys; ApplicationError names the path of the first bad node."""
    keys: dict[str, int] = {}
    for index, step in enumerate(steps):
        key = step.get("key") or f"step-{index + 1}"
        if not KEY_PATTERN.match(key) or key in RESERVED_KEYS:
            raise _error(
                _('a key is 1 to 40 lower-case letters, digits, "-" or "_", not "end"'),
                f"steps[{index}].key",
            )
        if key in keys:
            raise _error(
                _("steps[%(index)d] has the key %(key)s already")
                % {"index": keys[key], "key": key},
                f"steps[{index}].key",
            )
        keys[key] = index
        step["key"] = key
    for index, step in enumerate(steps):
        _step_clean(step, index, keys)
    if steps:
        _loop_check(steps, keys)
        _reach_check(steps, keys)
    return steps


# ---------------------------------------------------------------------------------------------
# Describing a definition (the rule editor's flow)


def _values_text(kind: str, name: str, values: Any) -> str:
    if not isinstance(values, list):
        return str(values)
    labels = outcome_labels(kind, name)
    return ", ".join(str(labels.get(value, value)) for value in values)


def branch_words(step: dict[str, Any], branch: dict[str, Any]) -> str:
    """What a branch waits for, in words (the interface language)."""
    match = branch.get("if")
    if match == TIMEOUT:
        return _("Nothing within %(hours)s h") % {"hours": step.get("wait_hours")}
    if not isinstance(match, dict) or match.get("any") is True:
        return _("Any outcome")
    kind = step.get("wait_for") or ""
    phrases = {
        "keywords": _("The reply contains: %(values)s"),
        "results": _("Call result: %(values)s"),
        "intents": _("Customer intent: %(values)s"),
        "keypresses": _("Keys pressed: %(values)s"),
        "outcomes": _("Agent recorded: %(values)s"),
        "name": _("The event %(values)s"),
    }
    parts = [
        phrases[name] % {"values": _values_text(kind, name, values)}
        for name, values in match.items()
        if name in phrases
    ]
    return _(" and ").join(parts)


def journey_outline(steps: list[dict[str, Any]], titles: dict[str, str]) -> list[dict[str, Any]]:
    """The journey from the first step as a nested list for the editor: a path is a list of
    items, each a step (`number`, `key`, `title`, and for a wait its words and branches, each
    with the path it leads to), the end (`end`), or a step shown earlier (`again`). `titles`
    names each step by key."""
    keys = {step_key(step): index for index, step in enumerate(steps)}
    shown: set[str] = set()

    def path(index: int | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while index is not None:
            step = steps[index]
            key = step_key(step)
            if key in shown:
                items.append({"again": True, "number": index + 1, "key": key})
                return items
            shown.add(key)
            node: dict[str, Any] = {
                "number": index + 1,
                "key": key,
                "title": titles.get(key, key),
                "wait": "",
                "branches": [],
            }
            items.append(node)
            if step_waits(step):
                kinds: dict[object, object] = dict(WaitFor.choices)
                node["wait"] = _("Waits up to %(hours)s h for: %(outcome)s") % {
                    "hours": step.get("wait_hours"),
                    "outcome": kinds.get(step["wait_for"], step["wait_for"]),
                }
                for branch in step.get("branches") or []:
                    goto = branch.get("goto")
                    node["branches"].append(
                        {
                            "label": branch_words(step, branch),
                            "path": [{"end": True}] if goto == END else path(keys.get(goto)),
                        }
                    )
                return items
            goto, _path = _successors(steps, index)[0]
            if goto == END:
                items.append({"end": True})
                return items
            index = keys.get(goto)
        return items

    return path(0) if steps else []
