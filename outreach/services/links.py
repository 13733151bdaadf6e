"""Tracked links: each web link of a sent SMS or email becomes the recipient's own short link.

At send time (outreach.services.dispatch) every http(s) link of the rendered body is replaced by
`<TRACKED_LINK_BASE_URL>/l/<token>`, one TrackedLink per task and target created in one INSERT
(a retried send finds the links of its first attempt, so the customer's links never change).
The token is random, so the URL carries no personal data and cannot be guessed.

The public redirect (`/l/<token>`, outreach.views.links) counts every click with one atomic
UPDATE and answers with a redirect to the stored target only: nothing of the request decides
where it goes. The first click of a link is recorded as a `link_clicked` care event
(enrollment, step position, task, link, url) in the same transaction; later clicks (a second
tap, a mail scanner's prefetch) are counted but announce nothing again. A journey waiting for a
click counts only the links of its waiting step's own message.
"""

import datetime as dt
import html
import secrets

from django.db import connection, transaction
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.events import DomainEvent
from care.choices import EventType, StepChannel
from care.services.events import events_record
from care.services.templates.links import message_links, message_links_replace, tracked_link_url
from outreach.models import OutreachTask, TrackedLink

# Random bytes of a token: 8 give 11 URL-safe characters, 2**64 tokens.
TOKEN_BYTES = 8
# Rounds of new tokens for links whose token collided with another's (never at 2**64).
TOKEN_ATTEMPTS = 3
# Longer than any token (the column's length): refused without a query.
MAX_TOKEN_LENGTH = 32


def _target(url: str, *, channel: str) -> str:
    """The address a link points to: an email body is HTML (`&amp;` is `&`), and the scheme is
    written in lower case (the table only holds http and https targets)."""
    target = html.unescape(url) if channel == StepChannel.EMAIL else url
    scheme, rest = target.split("://", 1)
    return f"{scheme.lower()}://{rest}"


def tracked_links_apply(*, task: OutreachTask, body: str) -> str:
    """`body` with each of its web links replaced by the task's short link to it, creating the
    links not made yet (one INSERT, one SELECT; none when the body has no link)."""
    targets = {url: _target(url, channel=task.channel) for url in message_links(body)}
    if not targets:
        return body
    wanted = set(targets.values())
    tokens: dict[str, str] = {}
    for _attempt in range(TOKEN_ATTEMPTS):
        TrackedLink.objects.bulk_create(
            [
                TrackedLink(
                    token=secrets.token_urlsafe(TOKEN_BYTES),
                    task_id=task.pk,
                    customer_id=task.customer_id,
                    target_url=target,
                )
                for target in sorted(wanted - set(tokens))
            ],
            # A link made by an earlier attempt of this send stays as it is.
            ignore_conflicts=True,
        )
        tokens = dict(
            TrackedLink.objects.filter(task_id=task.pk, target_url__in=wanted).values_list(
                "target_url", "token"
            )
        )
        if len(tokens) == len(wanted):
            break
    else:
        raise ApplicationError(_("Could not create the tracked links of this message."))
    return message_links_replace(body, lambda url: tracked_link_url(tokens[targets[url]]))


# One statement: count the click, keep the first and last moments, and say whether this was
# the first click (the row lock orders concurrent clicks, so exactly one sees a count of 1).
_CLICK_SQL = """
UPDATE outreach_trackedlink AS link
   SET click_count = link.click_count + 1,
       first_clicked_at = COALESCE(link.first_clicked_at, %(now)s),
       last_clicked_at = %(now)s
  FROM outreach_outreachtask AS task
 WHERE link.token = %(token)s AND task.id = link.task_id
RETURNING link.id, link.task_id, link.customer_id, link.target_url, link.click_count,
          task.enrollment_id, task.step_position
"""


@transaction.atomic
def tracked_link_click(*, token: str, now: dt.datetime) -> str | None:
    """Count a click of the link `token` and return its target; None (nothing written) when no
    link has that token. The first click is recorded as a `link_clicked` care event."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_CLICK_SQL, {"token": token, "now": now})
        row = cursor.fetchone()
    if row is None:
        return None
    link_id, task_id, customer_id, target_url, clicks, enrollment_id, step_position = row
    if clicks == 1:
        events_record(
            events=[
                DomainEvent(
                    type=EventType.LINK_CLICKED,
                    customer_id=customer_id,
                    payload={
                        # A journey's wait counts only the clicks of its own step's message.
                        "enrollment_id": enrollment_id,
                        "step_position": step_position,
                        "task_id": task_id,
                        "link_id": link_id,
                        "url": target_url,
                    },
                    occurred_at=now.isoformat(),
                )
            ]
        )
    return str(target_url)
