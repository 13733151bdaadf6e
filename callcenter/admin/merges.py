"""Merge proposals, decided by actions that call the identity services after a confirmation
page and report what moved."""

from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from callcenter.admin.base import BigTableAdmin, customer_admin_link
from callcenter.choices import MergeProposalStatus
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import MergeProposal
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.services.identity import merge_proposal_accept, merge_proposal_dismiss


def describe_moved(moved: dict[str, int]) -> str:
    """'3 orders, 2 contact points, ...' from a merge's per-table counts (non-zero only)."""
    parts = []
    for key, count in moved.items():
        if not count:
            continue
        label, _sep, note = key.partition(":")
        try:
            model = apps.get_model(".".join(label.split(".")[:2]))
            name = str(model._meta.verbose_name_plural)
        except (LookupError, ValueError):
            name = label
        if label.count(".") == 2:
            name = f"{name} ({label.rsplit('.', 1)[1]})"
        if note:
            name = f"{name} [{note.replace('_', ' ')}]"
        parts.append(f"{count} {name}")
    return ", ".join(parts) or _("nothing")


CONFIRM_TEMPLATE = """{% extends "admin/base_site.html" %}
{% block content %}
<p>{{ question }}</p>
<ul>{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
{% for pk in selected %}<input type="hidden" name="_selected_action" value="{{ pk }}">{% endfor %}
<input type="hidden" name="action" value="{{ action }}">
<input type="hidden" name="post" value="yes">
<input type="submit" value="{{ confirm_label }}">
<a href="" class="button cancel-link">{{ cancel_label }}</a>
</form>
{% endblock %}
"""


@admin.register(MergeProposal)
class MergeProposalAdmin(BigTableAdmin):
    list_display = (
        "id",
        "customer_a_link",
        "customer_b_link",
        "score",
        "reason_summary",
        "status",
        "decided_by",
        "created_at",
    )
    list_filter = ("status", "created_at")
    search_fields = (
        "customer_a__name",
        "customer_b__name",
        "customer_a__external_id__exact",
        "customer_b__external_id__exact",
    )
    list_select_related = ("customer_a", "customer_b", "decided_by")
    raw_id_fields = ("customer_a", "customer_b")
    readonly_fields = (
        "customer_a",
        "customer_b",
        "score",
        "reasons",
        "status",
        "decided_by",
        "decided_at",
        "created_at",
        "updated_at",
    )
    actions = ("merge_keep_a", "merge_keep_b", "dismiss")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request) and has_role(request.user, MANAGER_ROLES)

    @admin.display(description=gettext_lazy("customer A"), ordering="customer_a_id")
    def customer_a_link(self, obj: MergeProposal) -> str:
        return customer_admin_link(obj.customer_a)

    @admin.display(description=gettext_lazy("customer B"), ordering="customer_b_id")
    def customer_b_link(self, obj: MergeProposal) -> str:
        return customer_admin_link(obj.customer_b)

    @admin.display(description=gettext_lazy("reasons"))
    def reason_summary(self, obj: MergeProposal) -> str:
        return "; ".join(f"{r.get('kind')}: {r.get('value')}" for r in obj.reasons or [])

    @admin.action(permissions=["decide"], description=gettext_lazy("Merge, keeping customer A"))
    def merge_keep_a(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        return self._merge(request, queryset, keep="a")

    @admin.action(permissions=["decide"], description=gettext_lazy("Merge, keeping customer B"))
    def merge_keep_b(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        return self._merge(request, queryset, keep="b")

    @admin.action(permissions=["decide"], description=gettext_lazy("Dismiss (not duplicates)"))
    def dismiss(self, request: AuthenticatedHttpRequest, queryset: QuerySet) -> None:
        dismissed = 0
        for proposal in queryset.filter(status=MergeProposalStatus.OPEN):
            merge_proposal_dismiss(proposal=proposal, user=request.user)
            dismissed += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d proposal dismissed; it will not be proposed again.",
                "%(count)d proposals dismissed; they will not be proposed again.",
                dismissed,
            )
            % {"count": dismissed},
            messages.SUCCESS,
        )

    def _merge(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet, *, keep: str
    ) -> HttpResponse | None:
        proposals = list(
            queryset.filter(status=MergeProposalStatus.OPEN)
            .select_related("customer_a", "customer_b")
            .order_by("pk")
        )
        if not proposals:
            self.message_user(request, _("No open proposal was selected."), messages.WARNING)
            return None
        if request.POST.get("post") != "yes":
            return self._confirm(request, proposals, keep=keep)
        for proposal in proposals:
            # An earlier merge of this batch may have re-pointed or closed this proposal.
            proposal.refresh_from_db()
            if proposal.status != MergeProposalStatus.OPEN:
                continue
            survivor_id = proposal.customer_a_id if keep == "a" else proposal.customer_b_id
            try:
                record = merge_proposal_accept(
                    proposal=proposal, survivor_id=survivor_id, user=request.user
                )
            except ApplicationError as exc:
                self.message_user(
                    request,
                    _("Proposal %(id)s was not merged: %(error)s")
                    % {"id": proposal.pk, "error": exc.message},
                    messages.ERROR,
                )
                continue
            self.message_user(
                request,
                _(
                    "Merged customer #%(merged)s “%(merged_name)s” into #%(survivor)s "
                    "“%(survivor_name)s”: moved %(moved)s."
                )
                % {
                    "merged": record.merged_id,
                    "merged_name": record.merged.name,
                    "survivor": record.survivor_id,
                    "survivor_name": record.survivor.name,
                    "moved": describe_moved(record.moved),
                },
                messages.SUCCESS,
            )
        return None

    def _confirm(
        self, request: AuthenticatedHttpRequest, proposals: list[MergeProposal], *, keep: str
    ) -> HttpResponse:
        lines = []
        for proposal in proposals:
            survivor, merged = (
                (proposal.customer_a, proposal.customer_b)
                if keep == "a"
                else (proposal.customer_b, proposal.customer_a)
            )
            lines.append(
                _(
                    "Keep #%(survivor)s “%(survivor_name)s” (%(survivor_ext)s) and fold "
                    "#%(merged)s “%(merged_name)s” (%(merged_ext)s) into it; score %(score).2f."
                )
                % {
                    "survivor": survivor.pk,
                    "survivor_name": survivor.name,
                    "survivor_ext": survivor.external_id or "-",
                    "merged": merged.pk,
                    "merged_name": merged.name,
                    "merged_ext": merged.external_id or "-",
                    "score": proposal.score,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge customers?"),
            "opts": self.model._meta,
            "question": _(
                "Every order, interaction, ticket, survey, consent entry and contact point of "
                "the folded customer moves to the kept one. The folded customer stays as a "
                "merged record. Continue?"
            ),
            "lines": lines,
            "selected": [p.pk for p in proposals],
            "action": request.POST.get("action", f"merge_keep_{keep}"),
            "confirm_label": _("Yes, merge them"),
            "cancel_label": _("No, take me back"),
        }
        html = engines["django"].from_string(CONFIRM_TEMPLATE).render(context, request)
        return HttpResponse(html)
