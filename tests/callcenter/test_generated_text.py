"""Text the product writes into rows is stored in English and shown in the reader's language;
numbers and dates follow one format per language."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import formats, translation

from callcenter.generated import FOLLOW_UP_CALL_REASON, generated_text, interaction_outcome_text
from care.playbook.rules import RULES
from outreach.parts.care_playbook import PLAYBOOK_QUEUES
from segments.cluster_names import cluster_label, cluster_name_display
from segments.services.churn import ACTIVE_AUC, TOO_FEW_BUYERS, TRAINED_ON
from service.services.sla_defaults import DEFAULT_CALENDAR


def test_default_names_switch_with_the_language_and_typed_names_stay() -> None:
    rule = RULES[0]
    with translation.override("zh-hans"):
        assert generated_text(rule.name) == "投诉：致歉并跟进"
        assert generated_text(rule.description).startswith("1 小时内发送带工单号的致歉短信")
        assert generated_text(PLAYBOOK_QUEUES["senior"]) == "资深坐席"
        assert generated_text(DEFAULT_CALENDAR) == "工作时间"
        assert generated_text("My own queue") == "My own queue"
        assert generated_text("") == ""
    with translation.override("en"):
        assert generated_text(rule.name) == rule.name


def test_every_playbook_name_has_a_chinese_translation() -> None:
    names = [PLAYBOOK_QUEUES[slug] for slug in PLAYBOOK_QUEUES]
    for rule in RULES:
        names += [rule.name, rule.description, *(step["name"] for step in rule.steps)]
    with translation.override("zh-hans"):
        untranslated = [name for name in names if name and generated_text(name) == name]
    assert not untranslated


def test_text_with_figures_is_translated_sentence_by_sentence() -> None:
    trained = TRAINED_ON % {"rows": 120, "customers": 150, "share": 33.3, "auc": 0.8123}
    active = ACTIVE_AUC % {"days": 90, "auc": 0.7}
    with translation.override("zh-hans"):
        assert generated_text(FOLLOW_UP_CALL_REASON % {"id": 42}) == "回访电话（任务 #42）"
        assert generated_text(f"{trained} {active}") == (
            "基于 150 位客户中的 120 位训练（33% 停止购买）；留出集 AUC 0.812。"
            "在截止时间前 90 天内下过单的客户中：0.700。"
        )
        too_few = TOO_FEW_BUYERS % {"count": 12, "cutoff": "2026-06-08", "minimum": 50}
        assert (
            generated_text(too_few)
            == "历史数据太少：截至 2026-06-08 只有 12 位客户购买过，至少需要 50 位。"
        )


def test_task_outcomes_in_interactions_show_their_label() -> None:
    with translation.override("zh-hans"):
        assert interaction_outcome_text("no_answer") == "无人接听"
        assert interaction_outcome_text("resolved on the phone") == "resolved on the phone"


@pytest.mark.parametrize(
    ("traits", "english", "chinese"),
    [
        (
            ["recent", "frequent", "high_spend"],
            "Recent frequent high spenders",
            "近期活跃、高频的高消费客户",
        ),
        (["lapsed"], "Lapsed customers", "久未购买的客户"),
        (["complaint_prone"], "Customers, complaint-prone", "客户，易投诉"),
        ([], "Average customers", "普通客户"),
    ],
)
def test_cluster_names_are_made_in_the_reader_language(
    traits: list[str], english: str, chinese: str
) -> None:
    with translation.override("en"):
        assert cluster_label(traits) == english
    with translation.override("zh-hans"):
        assert cluster_label(traits) == chinese
        assert cluster_name_display(f"3. {english} (2)") == f"3. {chinese} (2)"
        assert cluster_name_display("3. Our best buyers") == "3. Our best buyers"


def test_chinese_numbers_group_thousands_with_a_comma() -> None:
    template = Template('{{ n|floatformat:"g" }} {{ amount|floatformat:"2g" }}')
    context = Context({"n": 1196183, "amount": 5671.5})
    with translation.override("zh-hans"):
        assert template.render(context) == "1,196,183 5,671.50"
    with translation.override("en"):
        assert template.render(context) == "1,196,183 5,671.50"


def test_one_short_date_format_in_both_languages() -> None:
    day = dt.date(2026, 12, 5)
    moment = dt.datetime(2026, 12, 5, 22, 31, tzinfo=dt.UTC)
    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert formats.date_format(day, "SHORT_DATE_FORMAT") == "2026-12-05"
            assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "2026-12-05 22:31"
