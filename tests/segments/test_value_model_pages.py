"""The value model on the pages: the clusters page's value model section (fit, parameters,
hold-out chart with its table, past fits, retraining), the at-risk list ranked by churn risk x
predicted value, the customer page, the dashboard's potential-value layer, the members list,
and the desk card (badge, predicted value line, advice), in English and Chinese."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from segments.choices import (
    ChurnModelStatus,
    LifecycleStage,
    RunStatus,
    SegmentKind,
    ValuePotential,
)
from segments.models import ClusterProfile, CustomerMetrics, RefreshRun, Segment
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)
from tests.segments.value_fits import ValueModelFitFactory

pytestmark = pytest.mark.django_db

# The request's savepoint and its release, session, user, role groups; clusters (latest run, its
# profiles); churn model (current, attempts); value model (current, fits); customers at risk;
# lost customers.
CLUSTERS_QUERIES = 13


@pytest.fixture
def client_as(client: Client) -> Callable[[Any], Client]:
    def _as(user: Any) -> Client:
        client.force_login(user)
        return client

    return _as


def _at_risk(name: str, *, stage: str, churn: float, spend: str, predicted: str | None) -> Any:
    customer = CustomerFactory(name=name)
    CustomerMetricsFactory(
        customer=customer,
        lifecycle_stage=stage,
        churn_probability=churn,
        monetary=Decimal(spend),
        predicted_value_365d=None if predicted is None else Decimal(predicted),
        last_order_at=timezone.now() - dt.timedelta(days=30),
    )
    return customer


def test_clusters_page_shows_the_value_model_fit_holdout_and_past_fits(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    ValueModelFitFactory(
        version=1,
        is_current=False,
        status=ChurnModelStatus.SKIPPED,
        message="too few repeat buyers: 12",
        holdout={},
        holdout_error=None,
    )
    ValueModelFitFactory(version=2)

    html = client_as(supervisor_user).get(reverse("clusters")).content.decode()

    section = html[html.index('data-testid="value-model"') :]
    assert "Value model" in section
    fit = section[section.index('data-testid="value-model-fit"') :]
    assert "v2" in fit
    assert "2,357" in fit  # customers in the sample
    assert "1,126" in fit  # repeat buyers
    assert "Log-likelihood (BG/NBD)" in fit
    assert "-9582.43" in fit
    parameters = section[section.index('data-testid="value-model-parameters"') :]
    for name, value in (("alpha", "30.9000"), ("gamma", "15.4400"), ("b", "2.4260")):
        assert f'<th scope="row" class="mono">{name}</th>' in parameters
        assert value in parameters
    assert "r / alpha is the mean purchases per day" in parameters
    # the chart, its data, and the table that stands for it without JavaScript
    assert 'data-chart="holdout"' in section
    assert 'id="value-holdout-data"' in section
    table = section[section.index('data-testid="holdout-table"') :]
    assert '<th scope="row">7+</th>' in table
    assert "Purchases in the 90 days after the hold-out date" in table
    assert "793.3" in table
    assert "787" in table
    assert "Error of the total: 0.8%" in section
    fits = section[section.index('data-testid="value-model-fits"') :]
    assert "too few repeat buyers: 12" in fits
    assert "Skipped" in fits
    assert "in use" in fits
    assert f'action="{reverse("value-model-retrain")}"' in section


def test_clusters_page_before_any_fit_says_so_and_offers_retraining(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    html = client_as(supervisor_user).get(reverse("clusters")).content.decode()

    assert "No value model in use yet" in html
    assert 'data-chart="holdout"' not in html
    assert "Retrain value model" in html


def test_a_fit_without_holdout_keys_still_renders(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    # a fit written with partial JSON: the page shows what there is
    ValueModelFitFactory(
        params={"r": 0.5},
        log_likelihood={"bgnbd": "n/a"},
        holdout={"buckets": [{"repeat": "0"}, "junk"]},
        holdout_error=None,
    )

    response = client_as(supervisor_user).get(reverse("clusters"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "0.5000" in html
    assert "Error of the total: —" in html
    assert "Purchases after the hold-out date, by repeat purchases before it" in html


def test_clusters_page_query_count_does_not_grow_with_fits_or_customers(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    client = client_as(supervisor_user)
    run = RefreshRun.objects.create(as_of=timezone.now(), window_days=365)
    ClusterProfile.objects.create(
        run=run,
        number=0,
        label="Loyal",
        size=5,
        mean_frequency=2,
        mean_monetary=300,
        mean_complaints=0,
    )
    ValueModelFitFactory(version=1, is_current=False)
    ValueModelFitFactory(version=2)
    _at_risk("One", stage=LifecycleStage.ACTIVE, churn=0.4, spend="100", predicted="900")
    client.get(reverse("clusters"))  # warm up
    with CaptureQueriesContext(connection) as first:
        assert client.get(reverse("clusters")).status_code == 200

    for version in range(3, 9):
        ValueModelFitFactory(version=version, is_current=False)
    for n in range(6):
        _at_risk(f"More {n}", stage=LifecycleStage.DORMANT, churn=0.5, spend="10", predicted="5")
    with CaptureQueriesContext(connection) as second:
        assert client.get(reverse("clusters")).status_code == 200

    assert len(first) == CLUSTERS_QUERIES
    assert len(second) == len(first)


def test_at_risk_ranks_by_churn_times_predicted_value_falling_back_to_spend(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    # given: a big past spender predicted to spend little, a small spender predicted to spend
    # much, one the value model has not scored (spend stands in), and a lost customer
    spent = _at_risk(
        "Spent", stage=LifecycleStage.DORMANT, churn=0.5, spend="5000", predicted="100"
    )
    rising = _at_risk(
        "Rising", stage=LifecycleStage.ACTIVE, churn=0.4, spend="200", predicted="3000"
    )
    unscored = _at_risk(
        "Unscored", stage=LifecycleStage.ACTIVE, churn=0.3, spend="1000", predicted=None
    )
    gone = _at_risk("Gone", stage=LifecycleStage.LOST, churn=0.99, spend="9000", predicted="0")

    html = client_as(supervisor_user).get(reverse("clusters")).content.decode()

    # then: 0.4 x 3000 = 1200, 0.3 x 1000 = 300, 0.5 x 100 = 50; the lost one is apart
    at_risk = html[html.index('data-testid="at-risk"') : html.index('data-testid="lost"')]
    urls = [reverse("customer-detail", args=[c.pk]) for c in (rising, unscored, spent, gone)]
    assert at_risk.index(urls[0]) < at_risk.index(urls[1]) < at_risk.index(urls[2])
    assert urls[3] not in at_risk
    assert "Predicted value, 365 days" in at_risk
    assert "3,000.00" in at_risk
    assert "1,200.00" in at_risk


def test_retraining_the_value_model_is_queued_by_name(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_as(supervisor_user).post(reverse("value-model-retrain"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("clusters")
    assert "Value model retraining queued" in response.content.decode()
    assert len(callbacks) == 1


@pytest.mark.parametrize(("name", "method"), [("clusters", "get"), ("value-model-retrain", "post")])
def test_agents_are_refused_the_value_model_by_the_server(
    client_as: Callable[[Any], Client],
    agent_user: Any,
    name: str,
    method: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = getattr(client_as(agent_user), method)(reverse(name))

    assert response.status_code == 403
    assert callbacks == []


def test_retraining_needs_a_post_with_csrf(supervisor_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(supervisor_user)

    assert client.get(reverse("value-model-retrain")).status_code == 405
    assert client.post(reverse("value-model-retrain")).status_code == 403


def test_clusters_page_value_model_in_chinese(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    ValueModelFitFactory()
    client = client_as(supervisor_user)
    client.cookies["django_language"] = "zh-hans"

    html = client.get(reverse("clusters")).content.decode()

    assert "价值模型" in html
    assert "重新训练价值模型" in html
    assert "留出日期之后 90 天内的购买次数" in html
    assert "总数误差：0.8%" in html
    assert "r / alpha 为每天的平均购买次数" in html


def _metrics_with_predictions(customer: Any, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "spend_lifetime": Decimal("320.00"),
        "p_alive": 0.87,
        "expected_orders_90d": 1.24,
        "expected_orders_365d": 4.6,
        "expected_order_value": Decimal("512.30"),
        "predicted_value_365d": Decimal("2345.60"),
        "value_potential": ValuePotential.GROW,
    }
    return CustomerMetricsFactory(customer=customer, **{**values, **extra})


def test_customer_page_shows_the_predictions_and_potential(
    client_as: Callable[[Any], Client],
) -> None:
    customer = CustomerFactory()
    _metrics_with_predictions(customer)
    client = client_as(UserFactory(role=Role.AGENT))
    url = reverse("customer-segments-fragment", args=[customer.pk])

    html = client.get(url).content.decode()
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(url).content.decode()

    assert "Grow: high predicted, lower past value" in html
    predictions = html[html.index('data-testid="value-predictions"') :]
    assert "2,345.60" in predictions
    assert "87%" in predictions
    assert "1.2 / 4.6" in predictions
    assert "512.30" in predictions
    assert "320.00" in predictions
    assert "培育：预测价值高，过往价值较低" in chinese
    assert "仍活跃概率" in chinese


def test_customer_page_before_the_value_model_scored(client_as: Callable[[Any], Client]) -> None:
    customer = CustomerFactory()
    CustomerMetricsFactory(customer=customer)

    html = (
        client_as(UserFactory(role=Role.AGENT))
        .get(reverse("customer-segments-fragment", args=[customer.pk]))
        .content.decode()
    )

    assert "not predicted yet" in html
    assert 'data-testid="value-potential"' not in html


def test_dashboard_lists_the_potential_layer_beside_the_tiers(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    # The four built-in segments come with the value model's data migration; made here so the
    # page is tested on its own.
    for value, label in ValuePotential.choices:
        Segment.objects.get_or_create(
            kind=SegmentKind.POTENTIAL,
            key=value,
            defaults={"name": str(label), "slug": f"potential-{value}", "size": 3, "rule": None},
        )
    Segment.objects.filter(kind=SegmentKind.POTENTIAL, key=ValuePotential.GROW).update(size=41)

    html = client_as(supervisor_user).get(reverse("dashboard")).content.decode()

    layer = html[html.index('data-testid="potential-layer"') :]
    layer = layer[: layer.index("</table>")]
    grow = Segment.objects.get(kind=SegmentKind.POTENTIAL, key=ValuePotential.GROW)
    assert reverse("segment-detail", args=[grow.pk]) in layer
    assert "41" in layer
    positions = [layer.index(str(label)) for label in ValuePotential.labels]
    assert positions == sorted(positions)
    assert html.index("Value tier") < html.index('data-testid="potential-layer"')


def test_members_sort_by_predicted_value(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = SegmentFactory(name="Callable")
    for name, predicted in (("Low", "10"), ("High", "900"), ("None", None)):
        customer = CustomerFactory(name=name)
        CustomerMetricsFactory(
            customer=customer,
            predicted_value_365d=None if predicted is None else Decimal(predicted),
        )
        SegmentMembershipFactory(segment=segment, customer=customer)

    html = (
        client_as(supervisor_user)
        .get(reverse("segment-members", args=[segment.pk]), {"sort": "-predicted"})
        .content.decode()
    )

    assert html.index(">High<") < html.index(">Low<") < html.index(">None<")
    assert "900.00" in html


# The desk card: the screen-pop statement carries the predictions; no query of its own.
PHONE = "+8613800138111"


def _desk_card(client: Client) -> Any:
    return client.get(reverse("desk-card"), {"phone": PHONE}, HTTP_HX_REQUEST="true")


@pytest.mark.parametrize(
    ("potential", "badge", "advice"),
    [
        (ValuePotential.GROW, "Grow", "Grow: high predicted value, low past spend."),
        (ValuePotential.SLIPPING, "Slipping", "Slipping: high past value, lower predicted value."),
    ],
)
def test_desk_card_shows_potential_predicted_value_and_advice(
    client_as: Callable[[Any], Client], potential: str, badge: str, advice: str
) -> None:
    customer = CustomerFactory(name="赵敏")
    PhoneFactory(customer=customer, value=PHONE)
    _metrics_with_predictions(customer, value_potential=potential)
    as_of = timezone.now() - dt.timedelta(days=1)
    RefreshRun.objects.create(
        status=RunStatus.SUCCEEDED, as_of=as_of, window_days=365, finished_at=as_of
    )

    html = _desk_card(client_as(UserFactory(role=Role.AGENT))).content.decode()

    assert f">{badge}</span>" in html
    line = html[html.index('data-testid="desk-value-line"') :]
    line = line[: line.index("</span>")]
    assert "Predicted value, 365 d: 2,345.60" in line
    assert "chance still active 87%" in line
    assert advice in html


def test_desk_card_in_chinese_and_before_the_value_model_scored(
    client_as: Callable[[Any], Client],
) -> None:
    customer = CustomerFactory(name="周芷若")
    PhoneFactory(customer=customer, value=PHONE)
    _metrics_with_predictions(customer)
    client = client_as(UserFactory(role=Role.AGENT))
    client.cookies["django_language"] = "zh-hans"

    chinese = _desk_card(client).content.decode()
    CustomerMetrics.objects.filter(customer=customer).update(
        p_alive=None, predicted_value_365d=None, value_potential=""
    )
    client.cookies["django_language"] = "en"
    unscored = _desk_card(client).content.decode()

    assert "预测价值（365天）：2,345.60" in chinese or "预测价值（365天）：2345.60" in chinese
    assert "仍活跃概率 87%" in chinese
    assert ">培育</span>" in chinese
    assert "培育：预测价值高，过往消费低" in chinese
    assert 'data-testid="desk-value-line"' not in unscored
    assert "Grow:" not in unscored


def test_desk_card_query_count_is_unchanged_by_the_predictions(
    client_as: Callable[[Any], Client],
) -> None:
    customer = CustomerFactory(name="张无忌")
    PhoneFactory(customer=customer, value=PHONE)
    CustomerMetricsFactory(customer=customer)
    client = client_as(UserFactory(role=Role.AGENT))
    _desk_card(client)
    with CaptureQueriesContext(connection) as before:
        _desk_card(client)
    _metrics_with_predictions(CustomerFactory())
    CustomerMetrics.objects.filter(customer=customer).update(
        p_alive=0.5, predicted_value_365d=Decimal("10.00"), value_potential=ValuePotential.KEEP
    )
    with CaptureQueriesContext(connection) as after:
        html = _desk_card(client).content.decode()

    assert 'data-testid="desk-value-line"' in html
    assert len(after) == len(before)


def test_segment_detail_shows_the_potential_layer_beside_the_tiers_in_the_same_queries(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = SegmentFactory(name="Mixed")
    for potential in (ValuePotential.GROW, ValuePotential.GROW, ValuePotential.SLIPPING, ""):
        customer = CustomerFactory()
        CustomerMetricsFactory(customer=customer, value_potential=potential)
        SegmentMembershipFactory(segment=segment, customer=customer)
    client = client_as(supervisor_user)

    html = client.get(reverse("segment-detail", args=[segment.pk])).content.decode()

    layer = html[html.index('data-testid="potential-composition"') :]
    layer = layer[: layer.index("</table>")]
    rows = [row for row in layer.split("<tr>")[1:]]
    assert "Grow: high predicted, lower past value" in rows[0]
    assert ">2</td>" in rows[0]
    assert ">1</td>" in rows[2]
    assert ">0</td>" in rows[1]


def test_segment_detail_without_predictions_has_no_potential_table(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = SegmentFactory(name="Unscored")
    customer = CustomerFactory()
    CustomerMetricsFactory(customer=customer)
    SegmentMembershipFactory(segment=segment, customer=customer)

    html = client_as(supervisor_user).get(reverse("segment-detail", args=[segment.pk]))

    assert 'data-testid="potential-composition"' not in html.content.decode()
