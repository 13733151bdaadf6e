"""Exporting and erasing a data subject's personal data from the customer list: admins only."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from callcenter.choices import Role
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import Customer
from callcenter.roles import has_role
from callcenter.services.privacy import (
    customer_erase,
    customer_subject_export,
    erasure_confirmation,
    subject_export_json,
)

ERASE_CONFIRM_TEMPLATE = """{% extends "admin/base_site.html" %}
{% block content %}
<p>{{ question }}</p>
<ul>{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
{% for pk in selected %}<input type="hidden" name="_selected_action" value="{{ pk }}">{% endfor %}
<input type="hidden" name="action" value="erase_personal_data">
<input type="hidden" name="post" value="yes">
{% if error %}<p class="errornote">{{ error }}</p>{% endif %}
<p><label for="erase-confirmation">{{ prompt }}</label></p>
<p><input type="text" id="erase-confirmation" name="confirmation" value="{{ typed }}"
  autocomplete="off" required autofocus></p>
<input type="submit" value="{{ confirm_label }}">
<a href="" class="button cancel-link">{{ cancel_label }}</a>
</form>
{% endblock %}
"""


class SubjectRightsActions(admin.ModelAdmin):
    """The export and erase actions of CustomerAdmin, with their permission and the erasure's
    typed confirmation."""

    def has_subject_rights_permission(self, request: HttpRequest) -> bool:
        """Exporting and erasing a data subject's personal data: admins only (README, Roles),
        checked when the action runs, not only by hiding it."""
        return has_role(request.user, (Role.ADMIN,))

    @admin.action(
        permissions=["subject_rights"],
        description=gettext_lazy("Export all personal data (subject access, admins, audited)"),
    )
    def export_subject_data(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet
    ) -> HttpResponse:
        exports = [
            customer_subject_export(customer=customer, actor=request.user, via="admin")
            for customer in queryset.order_by("pk")
        ]
        payload = exports[0] if len(exports) == 1 else exports
        name = f"customer-{exports[0]['customer']['id']}" if len(exports) == 1 else "customers"
        response = HttpResponse(
            subject_export_json(payload), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}-personal-data.json"'
        return response

    @admin.action(
        permissions=["subject_rights"],
        description=gettext_lazy("Erase personal data (anonymize, admins, audited)"),
    )
    def erase_personal_data(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        customers = list(queryset.order_by("pk"))
        expected = erasure_confirmation(customers)
        typed = request.POST.get("confirmation")
        if request.POST.get("post") != "yes" or (typed or "").strip() != expected:
            return self._confirm_erasure(request, customers, expected, typed)
        for customer in customers:
            customer_erase(customer=customer, actor=request.user, via="admin")
        self.message_user(
            request,
            ngettext(
                "%(count)d customer erased; the act is in the audit log.",
                "%(count)d customers erased; the acts are in the audit log.",
                len(customers),
            )
            % {"count": len(customers)},
            messages.SUCCESS,
        )
        return None

    def _confirm_erasure(
        self,
        request: AuthenticatedHttpRequest,
        customers: list[Customer],
        expected: str,
        typed: str | None,
    ) -> HttpResponse:
        if len(customers) == 1:
            prompt = _("To confirm, type the customer's external id (or number): %(text)s") % {
                "text": expected
            }
        else:
            prompt = _("To confirm, type how many customers will be erased: %(text)s") % {
                "text": expected
            }
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase these customers' personal data?"),
            "opts": self.model._meta,
            "question": _(
                "Names, contact points, notes and other free text, custom attributes, "
                "addresses, birthdays and external ids are erased for good; only anonymous "
                "figures (order amounts and dates, counts) stay. This cannot be undone."
            ),
            "lines": [f"#{customer.pk} {customer.name}" for customer in customers],
            "selected": [customer.pk for customer in customers],
            "prompt": prompt,
            "typed": typed or "",
            "error": _("The text you typed does not match; nothing was erased.")
            if typed is not None
            else "",
            "confirm_label": _("Erase for good"),
            "cancel_label": _("No, take me back"),
        }
        html = engines["django"].from_string(ERASE_CONFIRM_TEMPLATE).render(context, request)
        return HttpResponse(html)
