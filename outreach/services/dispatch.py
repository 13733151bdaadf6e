"""The dispatcher: sends due automated tasks and releases due call tasks to agents.

One pass (`dispatch_due`, run every minute by beat and by `care_tick`):
1. Claims left by a dead worker (claimed longer than CLAIM_LEASE ago) go back to pending.
2. Due call tasks of care steps are checked (consent, step conditions, frequency cap), their
   script rendered, and released to the agent queues (or skipped with the reason).
3. Due automated tasks (SMS, email, automated call) are claimed with
   SELECT ... FOR UPDATE SKIP LOCKED in a short transaction (status claimed, claimed_at,
   claimed_by), so concurrent dispatchers never take the same task.
4. Claimed tasks are re-checked right before their sends, a chunk at a time (CHUNK tasks: a
   few queries load what a chunk needs, so a pass costs one UPDATE per sent message beyond
   them), under per-customer advisory locks held for the chunk (so two dispatchers never
   count the frequency cap of one customer at the same time):
   consent and do-not-contact, step conditions and "only if no response" (skip, reason kept),
   quiet hours in the customer's time zone (deferred to their end, back to pending), the
   frequency cap (skip: a proactive message held back for days would arrive out of context),
   and for a satisfaction survey (a template with `{{ survey_link }}`) the survey interval
   (one survey per customer per N days, outreach.services.surveys).
   Then it is rendered (links of SMS and email as tracked links, outreach.services.links)
   and sent with its idempotency key.
   A step with a fallback channel ("WeChat, else SMS") is sent on the fallback instead when
   the customer has no address on the step's channel, opted out of it, or the provider answers
   that the customer cannot be reached (WeChat 43004, an unknown WeCom contact); the task keeps
   the channel it was meant for (`fallback_from`) and why (`fallback_reason`).
   A transient error schedules a retry after retry_base_seconds * 2 ** (attempts - 1); after
   max_attempts the task fails with its last error kept. A permanent error fails it at once.

A worker killed after the provider accepted a message but before recording it leaves the task
claimed; step 1 returns it to pending and the resend carries the same idempotency key, which
the provider deduplicates.
"""

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from callcenter.choices import ConsentSource, ContactKind
from callcenter.errors import ApplicationError
from callcenter.models import ContactPoint, Customer
from callcenter.services.customers import customer_consent_set
from care.choices import StepChannel, TouchKind
from care.models import CareSettings
from care.selectors_campaigns import campaign_work_frozen
from care.services.templates import (
    ContextRows,
    survey_link_sample,
    survey_link_url,
    template_context_rows,
    template_render,
    templates_placeholders,
)
from outreach.backends import (
    ChannelBackend,
    PermanentSendError,
    RecipientUnreachable,
    TransientSendError,
    channel_backend,
)
from outreach.choices import AUTOMATED_CHANNELS, TaskStatus
from outreach.models import OutreachTask
from outreach.reasons import SkipReason, WaitReason
from outreach.services.guardrails import (
    CONSENT_FIELDS,
    consent_block,
    proactive_touches,
    quiet_hours_resume,
    step_block,
    step_fallback,
)
from outreach.services.links import tracked_links_apply
from outreach.services.surveys import (
    survey_ask_for_send,
    survey_ask_mark_sent,
    survey_recent_customers,
    template_asks_survey,
)
from segments.rules import RuleError

logger = logging.getLogger("outreach.dispatch")

# Channels whose links are sent as tracked links (outreach.services.links).
LINK_CHANNELS = (StepChannel.SMS, StepChannel.EMAIL)
# A claim older than this belongs to a dead worker. A live worker stops sending and gives its
# remaining claims back after half of it, so it never overlaps a recovery.
CLAIM_LEASE = dt.timedelta(minutes=5)
# Tasks created for an SMS opt-out confirmation carry this key prefix: they go out even though
# the customer just opted out (the confirmation is the last message), at any hour.
OPT_OUT_CONFIRMATION_PREFIX = "sms-optout-confirm:"
# pg_advisory_lock(namespace, customer) serializes sends to one customer across dispatchers.
LOCK_NAMESPACE = 0x6F75
# Claimed tasks checked together: what a chunk needs (consent, frequency counts, template
# contexts) is loaded at its start, so a consent change reaches sends a chunk later at most.
CHUNK = 100
ADDRESS_KIND: dict[str, str] = {
    StepChannel.SMS: ContactKind.PHONE,
    StepChannel.AUTO_CALL: ContactKind.PHONE,
    StepChannel.EMAIL: ContactKind.EMAIL,
    StepChannel.WECHAT: ContactKind.WECHAT,
    StepChannel.WECOM: ContactKind.WECOM,
}
COUNT_KEYS = (
    "recovered",
    "calls_released",
    "calls_skipped",
    "claimed",
    "sent",
    "skipped",
    "deferred",
    "retried",
    "failed",
    "busy",
    "lost",
    "returned",
)
TASK_RELATED = ("customer", "step", "template", "enrollment__rule_version", "enrollment__event")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:128]


def dispatch_due(
    *, now: dt.datetime | None = None, limit: int = 500, worker_id: str | None = None
) -> dict[str, int]:
    """One dispatcher pass; returns counts of what happened (see COUNT_KEYS)."""
    now = now or timezone.now()
    worker_id = worker_id or default_worker_id()
    counts: Counter[str] = Counter({key: 0 for key in COUNT_KEYS})
    counts["recovered"] = tasks_recover_stale_claims(now=now)
    care_settings = CareSettings.load()
    counts.update(_release_due_calls(now=now, limit=limit, care_settings=care_settings))
    ids = _claim(now=now, limit=limit, worker_id=worker_id)
    counts["claimed"] = len(ids)
    if ids:
        run = _Run(now=now, worker_id=worker_id, care_settings=care_settings)
        counts.update(run.process_all(ids))
    return dict(counts)


def tasks_recover_stale_claims(*, now: dt.datetime) -> int:
    """Return automated tasks claimed by a worker that died to pending (one UPDATE)."""
    return OutreachTask.objects.filter(
        status=TaskStatus.CLAIMED,
        channel__in=AUTOMATED_CHANNELS,
        claimed_at__lt=now - CLAIM_LEASE,
    ).update(status=TaskStatus.PENDING, claimed_at=None, claimed_by="", updated_at=now)


def _claim(*, now: dt.datetime, limit: int, worker_id: str) -> list[int]:
    with transaction.atomic():
        ids = list(
            OutreachTask.objects.select_for_update(skip_locked=True)
            .filter(status=TaskStatus.PENDING, channel__in=AUTOMATED_CHANNELS, due_at__lte=now)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(~campaign_work_frozen())
            .order_by("due_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            OutreachTask.objects.filter(pk__in=ids).update(
                status=TaskStatus.CLAIMED, claimed_at=now, claimed_by=worker_id, updated_at=now
            )
    return ids


def _extra(task: OutreachTask) -> dict[str, Any] | None:
    """What the triggering event tells the template (e.g. the ticket it is about)."""
    return dict(task.enrollment.event.payload or {}) if task.enrollment is not None else None


def _context_rows(tasks: list[OutreachTask]) -> ContextRows:
    """Everything the templates of `tasks` draw on, in a few queries."""
    templates = {task.template.pk: task.template for task in tasks if task.template is not None}
    return template_context_rows(
        ((task.customer_id, _extra(task)) for task in tasks if task.template_id is not None),
        placeholders=templates_placeholders(templates.values()),
    )


def _render(task: OutreachTask, rows: ContextRows) -> tuple[str, str]:
    """Subject and body: the template rendered for the customer, or the task's own text."""
    if task.template is None:
        return task.subject, task.body
    rendered = template_render(
        template=task.template, customer_id=task.customer_id, extra=_extra(task), rows=rows
    )
    return rendered.subject, rendered.body


def _message(
    task: OutreachTask, rows: ContextRows, channel: str, *, survey_token: str | None = None
) -> tuple[str, str]:
    """Subject and body as sent on `channel` (the step's, or its fallback): rendered, a survey's
    link made the ask's own, the links of SMS and email made tracked links."""
    subject, body = _render(task, rows)
    if survey_token is not None:
        sample, own = survey_link_sample(), survey_link_url(survey_token)
        subject, body = subject.replace(sample, own), body.replace(sample, own)
    if channel in LINK_CHANNELS:
        body = tracked_links_apply(task=task, body=body)
    return subject, body


def _lock_key(customer_id: int) -> int:
    return customer_id % 2**31


@contextmanager
def customer_locks(customer_ids: Iterable[int]) -> Iterator[set[int]]:
    """Session-level advisory locks on customers, taken without waiting, in one statement;
    yields the ids whose lock was taken. They are released together on exit, or by PostgreSQL
    if the worker's connection dies."""
    wanted = set(customer_ids)
    keys = sorted({_lock_key(customer_id) for customer_id in wanted})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k FROM unnest(%s::int[]) AS k WHERE pg_try_advisory_lock(%s, k)",
            [keys, LOCK_NAMESPACE],
        )
        taken = [row[0] for row in cursor.fetchall()]
    try:
        held = set(taken)
        yield {customer_id for customer_id in wanted if _lock_key(customer_id) in held}
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, k) FROM unnest(%s::int[]) AS k",
                    [LOCK_NAMESPACE, taken],
                )


def _addresses(customer_ids: set[int]) -> dict[tuple[int, str], str]:
    """Primary active phone, email, WeChat openid and WeCom external id per customer (one
    query)."""
    found: dict[tuple[int, str], str] = {}
    rows = (
        ContactPoint.objects.filter(
            customer_id__in=customer_ids,
            kind__in=sorted(set(ADDRESS_KIND.values())),
            is_active=True,
        )
        .order_by("customer_id", "kind", "-is_primary", "id")
        .values_list("customer_id", "kind", "value")
    )
    for customer_id, kind, value in rows:
        found.setdefault((customer_id, kind), value)
    return found


class _Run:
    """Sends the tasks one worker claimed in one pass."""

    def __init__(self, *, now: dt.datetime, worker_id: str, care_settings: CareSettings) -> None:
        self.now = now
        self.worker_id = worker_id
        self.settings = care_settings
        self.backends: dict[str, ChannelBackend] = {}
        self.started = time.monotonic()
        # What the current chunk loaded (see _process_chunk), and its skips by reason,
        # written together when the chunk ends.
        self.touches: dict[int, int] = {}
        self.rows = ContextRows({}, {}, {}, {}, {})
        self.skips: dict[str, list[int]] = {}
        self.addresses: dict[tuple[int, str], str] = {}
        # The chunk's survey tasks, and the customers who had a survey within the interval.
        self.surveys: set[int] = set()
        self.surveyed: set[int] = set()

    def process_all(self, ids: list[int]) -> Counter[str]:
        counts: Counter[str] = Counter()
        tasks = list(
            OutreachTask.objects.filter(pk__in=ids)
            .select_related(*TASK_RELATED)
            .prefetch_related("template__variants")
            .order_by("due_at", "id")
        )
        self.addresses = _addresses({task.customer_id for task in tasks})
        for start in range(0, len(tasks), CHUNK):
            done = self._process_chunk(tasks[start : start + CHUNK], counts)
            if done < min(CHUNK, len(tasks) - start):
                # Half the lease is gone: the rest goes back for the next pass.
                counts["returned"] += self._give_back([t.pk for t in tasks[start + done :]])
                break
        return counts

    def _out_of_time(self) -> bool:
        return time.monotonic() - self.started > CLAIM_LEASE.total_seconds() / 2

    def _process_chunk(self, chunk: list[OutreachTask], counts: Counter[str]) -> int:
        """Check and send one chunk under its customers' locks; returns how many tasks it
        went through (fewer when time ran out)."""
        done = 0
        with customer_locks(task.customer_id for task in chunk) as locked:
            busy = [task.pk for task in chunk if task.customer_id not in locked]
            if busy:
                # Another dispatcher is sending to these customers right now; next pass.
                self._give_back(busy)
                counts["busy"] += len(busy)
            mine = [task for task in chunk if task.customer_id in locked]
            consent = {
                row["pk"]: {name: row[f"customer__{name}"] for name in CONSENT_FIELDS}
                for row in OutreachTask.objects.filter(
                    pk__in=[task.pk for task in mine],
                    status=TaskStatus.CLAIMED,
                    claimed_by=self.worker_id,
                ).values("pk", *(f"customer__{name}" for name in CONSENT_FIELDS))
            }
            self.touches = proactive_touches(
                customer_ids={t.customer_id for t in mine if t.touch_kind == TouchKind.PROACTIVE},
                now=self.now,
                settings=self.settings,
            )
            self.rows = _context_rows(mine)
            self.surveys = {task.pk for task in mine if template_asks_survey(task)}
            self.surveyed = survey_recent_customers(
                customer_ids={task.customer_id for task in mine if task.pk in self.surveys},
                now=self.now,
                settings=self.settings,
                task_ids=self.surveys,
            )
            try:
                for task in chunk:
                    if task.customer_id not in locked:
                        done += 1
                        continue
                    if self._out_of_time():
                        break
                    done += 1
                    if task.pk not in consent:
                        counts["lost"] += 1
                        continue
                    counts[self.process(task, consent[task.pk])] += 1
            finally:
                _write_skips(
                    self.skips, now=self.now, status=TaskStatus.CLAIMED, claimed_by=self.worker_id
                )
                self.skips = {}
        return done

    def _mine(self, task: OutreachTask) -> Any:
        return OutreachTask.objects.filter(
            pk=task.pk, status=TaskStatus.CLAIMED, claimed_by=self.worker_id
        )

    def _give_back(self, ids: list[int]) -> int:
        return OutreachTask.objects.filter(
            pk__in=ids, status=TaskStatus.CLAIMED, claimed_by=self.worker_id
        ).update(status=TaskStatus.PENDING, claimed_at=None, claimed_by="", updated_at=self.now)

    def _address(self, task: OutreachTask, channel: str) -> str:
        return self.addresses.get((task.customer_id, ADDRESS_KIND[channel]), "")

    def process(self, task: OutreachTask, consent: dict[str, Any]) -> str:
        try:
            return self._check_and_send(task, consent)
        except Exception as exc:
            # A bug in one task (a template the renderer chokes on, a backend raising
            # something unexpected) must not stall every task behind it: it fails
            # visibly with the error, and the pass goes on.
            logger.exception("task %s failed unexpectedly", task.pk)
            return self._fail(task, f"unexpected error: {exc!r}"[:2000])

    def _route(self, task: OutreachTask, consent: dict[str, Any]) -> tuple[str, str, str]:
        """The channel to send on, its address, and why the step's fallback was taken ("" when
        it was not): the step's channel unless the customer opted out of it or has no address
        on it and the step names a fallback."""
        to = self._address(task, task.channel)
        reason = consent_block(task.channel, consent)
        if reason not in (None, SkipReason.OPTED_OUT) or (reason is None and to):
            return task.channel, to, ""
        fallback = step_fallback(task)
        if not fallback or fallback == task.channel:
            return task.channel, to, ""
        return fallback, self._address(task, fallback), reason or SkipReason.NO_ADDRESS

    def _check_and_send(self, task: OutreachTask, consent: dict[str, Any]) -> str:
        confirmation = task.idempotency_key.startswith(OPT_OUT_CONFIRMATION_PREFIX)
        channel, to, fallback_reason = self._route(task, consent)
        reason = consent_block(channel, consent)
        if reason and not (confirmation and reason != SkipReason.CUSTOMER_MERGED):
            return self._skip(task, reason)
        try:
            reason = step_block(task, now=self.now)
        except RuleError as exc:
            return self._fail(task, f"invalid step conditions: {exc}")
        if reason:
            return self._skip(task, reason)
        if not confirmation:
            resume = quiet_hours_resume(
                moment=self.now,
                zone_name=task.customer.timezone,
                quiet_start=self.settings.quiet_start,
                quiet_end=self.settings.quiet_end,
            )
            if resume is not None:
                return self._defer(task, resume)
        proactive = task.touch_kind == TouchKind.PROACTIVE
        if proactive and self.touches.get(task.customer_id, 0) >= self.settings.frequency_cap:
            return self._skip(task, SkipReason.FREQUENCY_CAP)
        survey = task.pk in self.surveys
        if survey and task.customer_id in self.surveyed:
            return self._skip(task, SkipReason.SURVEY_RECENT)
        if not to:
            return self._skip(task, SkipReason.NO_ADDRESS)
        try:
            token = survey_ask_for_send(task=task, extra=_extra(task)).token if survey else None
            subject, body = _message(task, self.rows, channel, survey_token=token)
        except ApplicationError as exc:
            return self._fail(task, f"template: {exc.message}")
        if not body.strip():
            return self._fail(task, "the message is empty")
        outcome = self._send(
            task,
            channel=channel,
            to=to,
            subject=subject,
            body=body,
            fallback_reason=fallback_reason,
            consent=consent,
        )
        if outcome == "sent" and proactive:
            # The next task of this customer in the chunk sees this touch.
            self.touches[task.customer_id] = self.touches.get(task.customer_id, 0) + 1
        if outcome == "sent" and survey:
            survey_ask_mark_sent(task_id=task.pk, now=self.now, settings=self.settings)
            self.surveyed.add(task.customer_id)
        return outcome

    def _backend(self, channel: str) -> ChannelBackend:
        if channel not in self.backends:
            self.backends[channel] = channel_backend(channel)
        return self.backends[channel]

    def _send(
        self,
        task: OutreachTask,
        *,
        channel: str,
        to: str,
        subject: str,
        body: str,
        fallback_reason: str,
        consent: dict[str, Any],
    ) -> str:
        try:
            message_id = self._backend(channel).send(
                to=to, body=body, subject=subject, idempotency_key=task.idempotency_key
            )
        except TransientSendError as exc:
            return self._retry(task, str(exc))
        except RecipientUnreachable as exc:
            if exc.opted_out:
                self._record_provider_opt_out(task, channel, str(exc))
            fallback = "" if fallback_reason else step_fallback(task)
            if not fallback or fallback == channel:
                return self._fail(task, str(exc), attempted=True)
            fallback_to = self._address(task, fallback)
            blocked = consent_block(fallback, consent) or (
                None if fallback_to else SkipReason.NO_ADDRESS
            )
            if blocked:
                return self._fail(task, f"{exc}; fallback {fallback}: {blocked}", attempted=True)
            return self._send(
                task,
                channel=fallback,
                to=fallback_to,
                subject=subject,
                body=body,
                fallback_reason=SkipReason.OPTED_OUT if exc.opted_out else SkipReason.UNREACHABLE,
                consent=consent,
            )
        except PermanentSendError as exc:
            return self._fail(task, str(exc), attempted=True)
        # Recorded even if the task was cancelled meanwhile: the message did go out.
        updated = OutreachTask.objects.filter(
            pk=task.pk,
            claimed_by=self.worker_id,
            status__in=[TaskStatus.CLAIMED, TaskStatus.CANCELLED],
        ).update(
            status=TaskStatus.SENT,
            channel=channel,
            fallback_from=task.channel if fallback_reason else "",
            fallback_reason=fallback_reason,
            sent_at=self.now,
            provider_message_id=str(message_id)[:128],
            to_address=to[:254],
            subject=subject[:200],
            body=body,
            attempts=F("attempts") + 1,
            next_attempt_at=None,
            last_error="",
            reason="",
            updated_at=self.now,
        )
        if not updated:
            logger.warning("task %s was recovered by another worker during its send", task.pk)
            return "lost"
        return "sent"

    def _record_provider_opt_out(self, task: OutreachTask, channel: str, error: str) -> None:
        """The provider says the customer withdrew from the channel (WeChat 43004): record it
        as their opt-out, so no later step tries again."""
        customer_consent_set(
            customer=Customer(pk=task.customer_id),
            channel=channel,
            opted_out=True,
            source=ConsentSource.PROVIDER,
            note=f"task {task.pk}: {error}"[:255],
        )

    def _skip(self, task: OutreachTask, reason: str) -> str:
        self.skips.setdefault(reason, []).append(task.pk)
        return "skipped"

    def _defer(self, task: OutreachTask, resume: dt.datetime) -> str:
        self._mine(task).update(
            status=TaskStatus.PENDING,
            reason=WaitReason.QUIET_HOURS,
            due_at=resume,
            # The SLA window moves with the send: quiet hours are policy, not a breach.
            deadline_at=resume + (task.deadline_at - task.due_at),
            claimed_at=None,
            claimed_by="",
            updated_at=self.now,
        )
        return "deferred"

    def _retry(self, task: OutreachTask, error: str) -> str:
        attempts = task.attempts + 1
        if attempts >= self.settings.max_attempts:
            return self._fail(task, error, attempted=True)
        delay = dt.timedelta(seconds=self.settings.retry_base_seconds * 2 ** (attempts - 1))
        self._mine(task).update(
            status=TaskStatus.PENDING,
            attempts=attempts,
            next_attempt_at=self.now + delay,
            last_error=error,
            claimed_at=None,
            claimed_by="",
            updated_at=self.now,
        )
        return "retried"

    def _fail(self, task: OutreachTask, error: str, *, attempted: bool = False) -> str:
        logger.warning("task %s failed: %s", task.pk, error)
        self._mine(task).update(
            status=TaskStatus.FAILED,
            attempts=task.attempts + 1 if attempted else task.attempts,
            next_attempt_at=None,
            last_error=error,
            updated_at=self.now,
        )
        return "failed"


def _write_skips(skipped: dict[str, list[int]], *, now: dt.datetime, **only: Any) -> None:
    """Mark tasks skipped, one UPDATE per reason; `only` narrows to the tasks still in a given
    state (a dispatcher's own claims)."""
    for reason, ids in skipped.items():
        OutreachTask.objects.filter(pk__in=ids, **only).update(
            status=TaskStatus.SKIPPED, reason=reason, next_attempt_at=None, updated_at=now
        )


# One statement for every released call task (Django's bulk_update builds a CASE per row and
# field, which costs far more Python than the release itself).
RELEASE_SQL = sql.SQL(
    "UPDATE {table} t SET subject = v.subject, body = v.body, last_error = v.last_error, "
    "next_attempt_at = NULL, updated_at = %(now)s "
    "FROM unnest(%(ids)s::bigint[], %(subjects)s::text[], %(bodies)s::text[], "
    "%(errors)s::text[]) AS v(id, subject, body, last_error) WHERE t.id = v.id"
).format(table=sql.Identifier(OutreachTask._meta.db_table))


def _write_released(tasks: list[OutreachTask], *, now: dt.datetime) -> None:
    if not tasks:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            RELEASE_SQL,
            {
                "now": now,
                "ids": [task.pk for task in tasks],
                "subjects": [task.subject for task in tasks],
                "bodies": [task.body for task in tasks],
                "errors": [task.last_error for task in tasks],
            },
        )


def _release_due_calls(
    *, now: dt.datetime, limit: int, care_settings: CareSettings
) -> Counter[str]:
    """Check due call tasks of care steps and release them to the agent queues."""
    counts: Counter[str] = Counter()
    with transaction.atomic():
        tasks = list(
            OutreachTask.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(channel=StepChannel.CALL, status=TaskStatus.PENDING, next_attempt_at__lte=now)
            .filter(~campaign_work_frozen())
            .select_related(*TASK_RELATED)
            .prefetch_related("template__variants")
            .order_by("next_attempt_at", "id")[:limit]
        )
        skipped: dict[str, list[int]] = {}
        released: list[OutreachTask] = []
        touches = proactive_touches(
            customer_ids={t.customer_id for t in tasks if t.touch_kind == TouchKind.PROACTIVE},
            now=now,
            settings=care_settings,
        )
        rows = _context_rows(tasks)
        for task in tasks:
            consent = {name: getattr(task.customer, name) for name in CONSENT_FIELDS}
            try:
                reason = consent_block(task.channel, consent) or step_block(task, now=now)
            except RuleError as exc:
                logger.warning("call task %s has invalid conditions: %s", task.pk, exc)
                reason = SkipReason.CONDITIONS_NOT_MET
            if reason is None and task.touch_kind == TouchKind.PROACTIVE:
                if touches.get(task.customer_id, 0) >= care_settings.frequency_cap:
                    reason = SkipReason.FREQUENCY_CAP
            if reason is not None:
                skipped.setdefault(reason, []).append(task.pk)
                continue
            try:
                task.subject, task.body = _render(task, rows)
            except ApplicationError as exc:
                # The agent still calls; the script problem is visible on the task.
                task.last_error = f"script: {exc.message}"
            released.append(task)
        _write_skips(skipped, now=now)
        _write_released(released, now=now)
    counts["calls_released"] = len(released)
    counts["calls_skipped"] = sum(len(ids) for ids in skipped.values())
    return counts
