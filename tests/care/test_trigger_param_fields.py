"""The rule editor's trigger parameters as form fields: built from the trigger declaration,
the chosen trigger's shown, saved through the same check as the API (its error beside the
parameter, nothing saved), a saved rule's values shown back, bounded queries."""

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from callcenter.choices import CalendarDayKind, CalendarDaySource
from callcenter.models import CalendarDay
from care.choices import EventType
from care.forms import PARAM_LABELS, RuleForm, trigger_param_field
from care.models import CareRule, MessageTemplate
from care.services.rules import care_rule_create
from care.services.templates import template_create
from care.services.triggers import TRIGGER_PARAMS
from segments.choices import SegmentKind
from segments.models import Segment
from tests.segments.factories import SegmentFactory

pytestmark = pytest.mark.django_db

ANNIVERSARY = "Company anniversary"


@pytest.fixture
def sms() -> MessageTemplate:
    return template_create(name="Hello", channel="sms", variants={"en": {"body": "Hi"}})


def _calendar_holiday(name: str, day: dt.date) -> None:
    CalendarDay.objects.create(
        day=day, kind=CalendarDayKind.HOLIDAY, name=name, source=CalendarDaySource.ADMIN
    )


def _post_data(sms: MessageTemplate, trigger: str, **params: str) -> dict[str, Any]:
    """The editor's post for a new one-step rule with these trigger parameter fields."""
    return {
        "name": f"Rule on {trigger}",
        "description": "",
        "trigger_type": trigger,
        **{trigger_param_field(trigger, name): value for name, value in params.items()},
        "conditions": "",
        "category": "marketing",
        "priority": "0",
        "cooldown_days": "0",
        "holdout_percent": "0",
        "note": "",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
        "steps-0-channel": "sms",
        "steps-0-template": str(sms.pk),
        "steps-0-delay_value": "0",
        "steps-0-delay_unit": "hours",
        "steps-0-sla_minutes": "60",
        "steps-0-escalation": "reassign",
        "steps-0-touch_kind": "proactive",
        "steps-0-ORDER": "1",
    }


def _fieldset(page: str, trigger: str) -> str:
    match = re.search(
        rf'<fieldset[^>]*data-trigger-fields="{trigger}"[^>]*>.*?</fieldset>', page, re.S
    )
    assert match, trigger
    return match.group(0)


def _opening_tag(fieldset: str) -> str:
    return fieldset.split(">", 1)[0]


def test_every_declared_parameter_is_a_field_of_its_trigger_with_its_range(
    admin_client: Client,
) -> None:
    page = admin_client.get(reverse("care-rule-create")).content.decode()

    for trigger, params in TRIGGER_PARAMS.items():
        fieldset = _fieldset(page, trigger)
        for name, spec in params.items():
            assert f'name="{trigger_param_field(trigger, name)}"' in fieldset
            if spec.kind == "number":
                assert f'min="{spec.low}" max="{spec.high}"' in fieldset
            assert name in PARAM_LABELS or spec.kind in ("date_field", "threshold_field")
        if not params:
            assert "This trigger takes no parameters." in fieldset


def test_the_chosen_trigger_shows_its_fields_and_the_holidays_of_the_calendar(
    admin_client: Client,
) -> None:
    _calendar_holiday(ANNIVERSARY, dt.date(2026, 6, 18))
    url = reverse("care-rule-create") + "?trigger_type=holiday"

    page = admin_client.get(url).content.decode()
    page_zh = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    holiday = _fieldset(page, "holiday")
    assert "hidden" not in _opening_tag(holiday)
    assert "hidden" in _opening_tag(_fieldset(page, "ticket_opened"))
    assert '<option value="date_reached">' in page
    assert '<option value="holiday" selected>' in page
    assert '<option value="any">Any holiday</option>' in holiday
    assert '<option value="Spring Festival">Spring Festival</option>' in holiday
    assert f'<option value="{ANNIVERSARY}">{ANNIVERSARY}</option>' in holiday
    holiday_zh = _fieldset(page_zh, "holiday")
    assert '<option value="any">任意节假日</option>' in holiday_zh
    assert '<option value="Spring Festival">春节</option>' in holiday_zh
    assert "节假日" in holiday_zh


def test_segment_and_threshold_fields_offer_what_exists(admin_client: Client) -> None:
    segment = SegmentFactory(name="Heavy users", slug="heavy-users")

    page = admin_client.get(reverse("care-rule-create")).content.decode()

    entered = _fieldset(page, "segment_entered")
    assert f'<option value="{segment.slug}">Heavy users</option>' in entered
    threshold = _fieldset(page, "threshold_crossed")
    assert '<option value="metric:spend_90d">' in threshold
    assert '<option value="attr:">Custom attribute…</option>' in threshold
    assert '<option value="above">Rises above</option>' in threshold
    assert "data-attribute-key" in threshold
    date = _fieldset(page, "date_reached")
    assert '<option value="created_at">' in date
    assert '<option value="attr:">Custom attribute…</option>' in date
    # Built-in segments by their label in the interface language, like everywhere else.
    builtin = Segment.objects.exclude(kind=SegmentKind.RULE).order_by("slug").first()
    assert builtin is not None
    with translation.override("zh-hans"):
        label = builtin.display_name
    page_zh = admin_client.get(
        reverse("care-rule-create"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    entered_zh = _fieldset(page_zh, "segment_entered")
    assert f'<option value="{builtin.slug}">{label}</option>' in entered_zh
    assert "自定义属性…" in _fieldset(page_zh, "date_reached")
    assert "升至高于" in _fieldset(page_zh, "threshold_crossed")


def test_a_holiday_rule_is_saved_from_the_form_and_shown_back(
    admin_client: Client, sms: MessageTemplate
) -> None:
    _calendar_holiday(ANNIVERSARY, dt.date(2026, 6, 18))
    data = _post_data(sms, "holiday", holiday=ANNIVERSARY, offset_days="-3", at_hour="10")
    # Another trigger's fields, left filled in when the trigger was switched, are not read.
    data[trigger_param_field("date_reached", "offset_days")] = "999"

    response = admin_client.post(reverse("care-rule-create"), data)

    rule = CareRule.objects.get()
    assert response.status_code == 302
    assert rule.trigger_type == EventType.HOLIDAY
    assert rule.trigger_params == {"holiday": ANNIVERSARY, "offset_days": -3, "at_hour": 10}
    page = admin_client.get(reverse("care-rule-edit", args=[rule.pk])).content.decode()
    holiday = _fieldset(page, "holiday")
    assert "hidden" not in _opening_tag(holiday)
    assert f'<option value="{ANNIVERSARY}" selected>' in holiday
    assert 'name="tp_holiday__offset_days" value="-3"' in holiday
    assert 'name="tp_holiday__at_hour" value="10"' in holiday


def test_a_date_rule_on_a_custom_attribute_is_saved_and_shown_back(
    admin_client: Client, sms: MessageTemplate
) -> None:
    data = _post_data(
        sms, "date_reached", field="attr:", field_key="repayment_due_at", offset_days="-3"
    )
    data[trigger_param_field("date_reached", "at_hour")] = "9"

    response = admin_client.post(reverse("care-rule-create"), data)

    rule = CareRule.objects.get()
    assert response.status_code == 302
    assert rule.trigger_params == {
        "field": "attr:repayment_due_at",
        "offset_days": -3,
        "at_hour": 9,
    }
    page = admin_client.get(reverse("care-rule-edit", args=[rule.pk])).content.decode()
    date = _fieldset(page, "date_reached")
    assert '<option value="attr:" selected>' in date
    assert 'name="tp_date_reached__field_key" value="repayment_due_at"' in date
    assert RuleForm.initial_for(rule)["tp_date_reached__field_key"] == "repayment_due_at"


def test_a_threshold_rule_is_saved_from_the_form(
    admin_client: Client, sms: MessageTemplate
) -> None:
    data = _post_data(
        sms, "threshold_crossed", field="metric:spend_90d", direction="above", value="90.5"
    )

    response = admin_client.post(reverse("care-rule-create"), data)

    rule = CareRule.objects.get()
    assert response.status_code == 302
    assert rule.trigger_params == {"field": "metric:spend_90d", "direction": "above", "value": 90.5}
    page = admin_client.get(reverse("care-rule-edit", args=[rule.pk])).content.decode()
    threshold = _fieldset(page, "threshold_crossed")
    assert '<option value="metric:spend_90d" selected>' in threshold
    assert '<option value="above" selected>' in threshold
    assert 'name="tp_threshold_crossed__value" value="90.5"' in threshold


@pytest.mark.parametrize(
    ("trigger", "params", "field", "words"),
    [
        (
            "holiday",
            {"holiday": "any", "offset_days": "31", "at_hour": "10"},
            "tp_holiday__offset_days",
            ['"offset_days"', "-30", "30"],
        ),
        (
            "holiday",
            {"holiday": "Xmas", "offset_days": "0", "at_hour": "10"},
            "tp_holiday__holiday",
            ['"holiday"', "unknown holiday Xmas"],
        ),
        (
            "holiday",
            {"offset_days": "0", "at_hour": "10"},
            "tp_holiday__holiday",
            ['"holiday"'],
        ),
        (
            "date_reached",
            {"field": "attr:", "field_key": "due_at", "offset_days": "0", "at_hour": "abc"},
            "tp_date_reached__at_hour",
            ['"at_hour"', "whole number"],
        ),
        (
            "date_reached",
            {"field": "attr:", "field_key": "bad key!", "offset_days": "0", "at_hour": "1"},
            "tp_date_reached__field",
            ['"field"', "attr:bad key!"],
        ),
        (
            "threshold_crossed",
            {"field": "metric:spend_90d", "direction": "sideways", "value": "1"},
            "tp_threshold_crossed__direction",
            ['"direction"', "sideways"],
        ),
    ],
)
def test_bad_parameters_are_shown_beside_their_field_and_nothing_is_saved(
    admin_client: Client,
    sms: MessageTemplate,
    trigger: str,
    params: dict[str, str],
    field: str,
    words: list[str],
) -> None:
    response = admin_client.post(reverse("care-rule-create"), _post_data(sms, trigger, **params))

    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors[field])
    for word in words:
        assert word in errors
    assert not CareRule.objects.exists()
    fieldset = _fieldset(response.content.decode(), trigger)
    assert "hidden" not in _opening_tag(fieldset)
    assert 'class="field-error"' in fieldset


def test_a_changed_parameter_is_refused_on_an_existing_rule_and_keeps_the_version(
    admin_client: Client, sms: MessageTemplate
) -> None:
    rule = care_rule_create(
        name="Greet",
        trigger_type=EventType.HOLIDAY,
        trigger_params={"holiday": "any", "offset_days": 0, "at_hour": 9},
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    )
    data = _post_data(sms, "holiday", holiday="any", offset_days="0", at_hour="24")
    data.update(
        {
            "name": "Greet",
            "steps-INITIAL_FORMS": "1",
            "steps-0-id": str(rule.steps.get().pk),
        }
    )

    response = admin_client.post(reverse("care-rule-edit", args=[rule.pk]), data)

    rule.refresh_from_db()
    assert response.status_code == 400
    assert '"at_hour"' in " ".join(response.context["form"].errors["tp_holiday__at_hour"])
    assert rule.version == 1
    assert rule.trigger_params == {"holiday": "any", "offset_days": 0, "at_hour": 9}


def test_the_editor_reads_segments_and_holidays_in_a_fixed_number_of_queries(
    admin_client: Client, sms: MessageTemplate, django_assert_num_queries: Any
) -> None:
    rule = care_rule_create(
        name="Greet",
        trigger_type=EventType.HOLIDAY,
        trigger_params={"holiday": "any", "offset_days": 0, "at_hour": 9},
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    )
    url = reverse("care-rule-edit", args=[rule.pk])
    admin_client.get(url)  # warm the per-process caches (content types, settings)
    with django_assert_num_queries(EDITOR_QUERIES):
        admin_client.get(url)

    for number in range(8):
        SegmentFactory()
        _calendar_holiday(f"Holiday {number}", dt.date(2026, 3, 1) + dt.timedelta(days=number))

    with django_assert_num_queries(EDITOR_QUERIES):
        page = admin_client.get(url).content.decode()
    assert "Holiday 7" in _fieldset(page, "holiday")


# The session, user and groups, the rule, its steps and their templates, the templates and
# queues offered, the segments and the holiday names (one each, however many there are).
EDITOR_QUERIES = 12
