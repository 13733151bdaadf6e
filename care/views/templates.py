"""Message template pages: the list and editor (admins edit, supervisors read), a live preview
for a chosen customer, and the customer picker the preview uses."""

import math
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callcenter.choices import Language, Role
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.selectors.profile import customer_search_rows
from callcenter.views import role_required
from care.choices import TemplateChannel
from care.forms import TemplateForm
from care.models import MessageTemplate
from care.selectors import preview_customer_sample, template_list
from care.services.templates import (
    NEEDS_FALLBACK,
    PLACEHOLDERS,
    template_create,
    template_preview,
    template_update,
)
from care.services.templates.links import (
    SAMPLE_TOKEN,
    message_links_sample,
    tracked_link_url,
)

PICKER_LIMIT = 8
MAX_QUERY_LENGTH = 200
# GSM 03.38 basic alphabet (and the extension characters that take two septets).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")

# What each placeholder holds, in the interface language (keys are PLACEHOLDERS').
PLACEHOLDER_HELP = {
    "customer.name": gettext_lazy("The customer's name"),
    "customer.first_name": gettext_lazy("The first word of the name (the whole name if one word)"),
    "customer.company_name": gettext_lazy("The company of a business customer"),
    "customer.city": gettext_lazy("The customer's city"),
    "advisor.name": gettext_lazy("The dedicated advisor's name"),
    "ticket.number": gettext_lazy("The ticket number"),
    "ticket.subject": gettext_lazy("The ticket subject"),
    "order.number": gettext_lazy("The order number"),
    "order.amount": gettext_lazy("The order amount, e.g. 199.00"),
    "order.currency": gettext_lazy("The order currency, e.g. CNY"),
    "order.date": gettext_lazy("The order date in the customer's time zone"),
    "opt_out_hint": gettext_lazy("How to opt out, in the text's language"),
    "customer.attr.NAME": gettext_lazy(
        "A custom attribute; write its name for NAME, e.g. customer.attr.points"
    ),
    "customer.top_category": gettext_lazy("The category the customer bought most often"),
    "customer.preferred_channel": gettext_lazy("The channel the customer contacts us by most"),
    "customer.segment": gettext_lazy("The rule segment the customer joined most recently"),
    "customer.value_tier": gettext_lazy("The customer's value tier"),
    "order.category": gettext_lazy("The order's category"),
    "order.product": gettext_lazy("The order's product"),
    "survey_link": gettext_lazy(
        "The customer's own satisfaction (CSAT) survey link about the ticket or call; a "
        "message with it asks for a score, and a reply of a digit 1-5 answers it"
    ),
}


def sms_segments(text: str) -> dict[str, Any]:
    """Length and SMS parts of `text`: GSM-7 texts take 160 characters in one part, 153 per
    part when split; anything else (e.g. Chinese) is UCS-2, 70 and 67."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        units = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        # UCS-2 counts UTF-16 code units: a character outside the BMP (emoji) takes two.
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    parts = 0 if units == 0 else 1 if units <= single else math.ceil(units / multi)
    return {"length": units, "parts": parts, "encoding": encoding}


def placeholders() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "help": str(PLACEHOLDER_HELP.get(name, text)),
            "needs_fallback": name in NEEDS_FALLBACK,
        }
        for name, text in PLACEHOLDERS.items()
    ]


@require_GET
@role_required(MANAGER_ROLES)
def template_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Templates with their channel, languages and how many rule steps use them."""
    templates = template_list().annotate(step_count=Count("steps")).order_by("name")
    return render(request, "care/template_list.html", {"templates": templates})


def _form_context(
    request: AuthenticatedHttpRequest, form: TemplateForm, template: MessageTemplate | None
) -> dict[str, Any]:
    return {
        "form": form,
        "template": template,
        "can_edit": has_role(request.user, (Role.ADMIN,)),
        "placeholders": placeholders(),
        "sms_channel": TemplateChannel.SMS,
        # What a link counts as in the live SMS length: a short link as sent.
        "short_link": tracked_link_url(SAMPLE_TOKEN),
        "email_channel": TemplateChannel.EMAIL,
    }


@require_http_methods(["GET", "POST"])
@role_required(MANAGER_ROLES)
def template_edit_view(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Read a template (supervisors) or create / change it (admins)."""
    template = get_object_or_404(MessageTemplate, pk=pk) if pk is not None else None
    can_edit = has_role(request.user, (Role.ADMIN,))
    if (request.method == "POST" or template is None) and not can_edit:
        raise PermissionDenied
    fixed = template is not None
    if request.method == "POST":
        initial = {"channel": template.channel} if template is not None else None
        form = TemplateForm(request.POST, channel_fixed=fixed, initial=initial)
        if form.is_valid():
            try:
                if template is None:
                    template = template_create(
                        name=form.cleaned_data["name"],
                        channel=form.cleaned_data["channel"],
                        description=form.cleaned_data["description"],
                        variants=form.variants(),
                        created_by=request.user,
                    )
                else:
                    template_update(
                        template=template,
                        updated_by=request.user,
                        name=form.cleaned_data["name"],
                        description=form.cleaned_data["description"],
                        variants=form.variants(),
                    )
            except ApplicationError as exc:
                form.attach_service_error(exc)
            else:
                messages.success(
                    request, _("Template “%(name)s” saved.") % {"name": form.cleaned_data["name"]}
                )
                return redirect("care-template-edit", pk=template.pk)
        return render(
            request, "care/template_form.html", _form_context(request, form, template), status=400
        )
    initial = TemplateForm.initial_for(template) if template is not None else None
    form = TemplateForm(initial=initial, channel_fixed=fixed)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "care/template_form.html", _form_context(request, form, template))


def _preview_rows(rendered: dict[str, Any], channel: str | None) -> list[dict[str, Any]]:
    """Each rendering with its SMS length and parts counted on the text as sent: its links as
    tracked short links (care.services.templates.links)."""
    labels = dict(Language.choices)
    rows = []
    for language, message in rendered.items():
        sent = message_links_sample(message.body)
        rows.append(
            {
                "language": language,
                "label": labels.get(language, language),
                "subject": message.subject,
                "body": message.body,
                "sms": sms_segments(sent) if channel == TemplateChannel.SMS else None,
                "short_link": tracked_link_url(SAMPLE_TOKEN) if sent != message.body else "",
                "sample_ticket": "ticket" in message.samples,
                "sample_order": "order" in message.samples,
            }
        )
    return rows


@require_POST
@role_required(MANAGER_ROLES)
def template_preview_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The texts of the editor (saved or not) rendered for the chosen customer, with the SMS
    length and parts; a fragment for htmx. Renders only, changes nothing."""
    template_pk = whole_number(request.POST.get("template_pk"))
    template = (
        get_object_or_404(MessageTemplate, pk=template_pk) if template_pk is not None else None
    )
    channel = template.channel if template is not None else request.POST.get("channel")
    context: dict[str, Any] = {"rendered": [], "error": ""}
    customer_id = whole_number(request.POST.get("customer_id", ""))
    form = TemplateForm(request.POST, initial={"channel": channel}, channel_fixed=bool(template))
    # A read-only editor posts no texts (its fields are disabled): preview the saved ones.
    saved_only = template is not None and not any(
        request.POST.get(name) for name in form.fields if name.startswith("body_")
    )
    if customer_id is None:
        # None chosen yet: a recent customer with a real ticket and order, named on the preview.
        sample = preview_customer_sample()
        customer_id = sample.pk if sample is not None else None
        context["sample_customer"] = sample
    if customer_id is None:
        context["error"] = _("Choose a customer to preview with.")
    elif saved_only:
        try:
            rendered = template_preview(customer_id=customer_id, template=template)
        except ApplicationError as exc:
            context["error"] = exc.message
        else:
            context["rendered"] = _preview_rows(rendered, channel)
    elif not form.is_valid():
        context["error"] = " ".join(
            str(message) for messages_ in form.errors.values() for message in messages_
        )
    else:
        try:
            rendered = template_preview(
                customer_id=customer_id, channel=channel, variants=form.variants()
            )
        except ApplicationError as exc:
            context["error"] = exc.message
        else:
            context["rendered"] = _preview_rows(rendered, channel)
    return render(request, "care/partials/template_preview.html", context)


@require_GET
@role_required(MANAGER_ROLES)
def customer_picker_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A few customers matching `q`, to preview a template with (fragment)."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    customers = list(customer_search_rows(query)[:PICKER_LIMIT]) if query else []
    return render(
        request, "care/partials/customer_picker.html", {"customers": customers, "query": query}
    )
