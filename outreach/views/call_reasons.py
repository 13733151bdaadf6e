"""Call reasons' follow-ups (outreach.CallReasonSetting): supervisors see them, admins add,
change and remove them (outreach.services.call_followups, audited)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.views import role_required
from outreach.forms import CallReasonSettingForm
from outreach.models import CallReasonSetting
from outreach.services.call_followups import call_reason_setting_delete, call_reason_setting_save


def _save(
    request: AuthenticatedHttpRequest,
    form: CallReasonSettingForm,
    setting: CallReasonSetting | None,
) -> bool:
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        saved = call_reason_setting_save(
            setting=setting,
            reason=data["reason"],
            summary_channel=data["summary_channel"],
            csat_template=data["csat_template"],
            saved_by=request.user,
        )
    except ApplicationError as exc:
        field = exc.extra.get("field")
        form.add_error(field if field in form.fields else None, exc.message)
        return False
    messages.success(request, _("The follow-ups of %(reason)s are saved.") % {"reason": saved})
    return True


def _list(request: AuthenticatedHttpRequest, form: CallReasonSettingForm) -> HttpResponse:
    context = {
        "settings": CallReasonSetting.objects.select_related("csat_template").order_by("reason"),
        "form": form,
        "can_edit": has_role(request.user, (Role.ADMIN,)),
    }
    return render(
        request, "outreach/call_reasons.html", context, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@role_required(MANAGER_ROLES)
def call_reasons_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The call reasons with follow-ups; admins add one with the form (POST)."""
    if request.method != "POST":
        return _list(request, CallReasonSettingForm())
    if not has_role(request.user, (Role.ADMIN,)):
        raise PermissionDenied
    form = CallReasonSettingForm(request.POST)
    if _save(request, form, None):
        return redirect("call-reasons")
    return _list(request, form)


@require_http_methods(["GET", "POST"])
@role_required((Role.ADMIN,))
def call_reason_edit_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Change one call reason's follow-ups."""
    setting = get_object_or_404(CallReasonSetting, pk=pk)
    if request.method != "POST":
        form = CallReasonSettingForm(
            initial={
                "reason": setting.reason,
                "summary_channel": setting.summary_channel,
                "csat_template": setting.csat_template_id,
            }
        )
    else:
        form = CallReasonSettingForm(request.POST)
        if _save(request, form, setting):
            return redirect("call-reasons")
    return render(
        request,
        "outreach/call_reason_edit.html",
        {"setting": setting, "form": form},
        status=400 if form.errors else 200,
    )


@require_POST
@role_required((Role.ADMIN,))
def call_reason_delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Remove a call reason's follow-ups."""
    setting = get_object_or_404(CallReasonSetting, pk=pk)
    call_reason_setting_delete(setting=setting, deleted_by=request.user)
    messages.success(request, _("The follow-ups of %(reason)s are removed.") % {"reason": setting})
    return redirect("call-reasons")
