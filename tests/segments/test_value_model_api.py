"""The value model in the API and the export: the fits (list and current) for supervisors and
admins only, the predictions in a customer's metrics, the members' scores and the screen-pop,
and the CSV columns."""

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from segments.choices import ChurnModelStatus, RunStatus, ValuePotential
from segments.models import RefreshRun
from segments.services.export import EXPORT_COLUMNS
from tests.callcenter.factories import CustomerFactory, PhoneFactory
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)
from tests.segments.value_fits import ValueModelFitFactory

pytestmark = pytest.mark.django_db

PREDICTIONS: dict[str, Any] = {
    "spend_lifetime": Decimal("320.00"),
    "p_alive": 0.87,
    "expected_orders_90d": 1.24,
    "expected_orders_365d": 4.6,
    "expected_order_value": Decimal("512.30"),
    "predicted_value_365d": Decimal("2345.60"),
    "value_potential": ValuePotential.GROW,
}


@pytest.fixture
def predicted() -> Any:
    """A customer the value model scored, as of a successful refresh."""
    as_of = timezone.now() - dt.timedelta(days=1)
    RefreshRun.objects.create(
        status=RunStatus.SUCCEEDED, as_of=as_of, window_days=365, finished_at=as_of
    )
    customer = CustomerFactory(name="Predicted", external_id="P-1")
    PhoneFactory(customer=customer, value="+8613800138222")
    CustomerMetricsFactory(customer=customer, **PREDICTIONS)
    return customer


@pytest.mark.parametrize("user", ["supervisor_user", "crm_admin_user"])
def test_managers_read_the_fits_latest_first_and_the_current_one(
    request: pytest.FixtureRequest, api_as: Any, user: str
) -> None:
    ValueModelFitFactory(
        version=1, is_current=False, status=ChurnModelStatus.FAILED, message="did not converge"
    )
    ValueModelFitFactory(version=2)
    client = api_as(request.getfixturevalue(user))

    fits = client.get("/api/segments/value-models/")
    current = client.get("/api/segments/value-models/current/")

    assert fits.status_code == 200
    assert [fit["version"] for fit in fits.json()["results"]] == [2, 1]
    assert fits.json()["results"][1]["message"] == "did not converge"
    body = current.json()
    assert current.status_code == 200
    assert body["version"] == 2
    assert body["is_current"] is True
    assert body["params"]["alpha"] == 30.9
    assert set(body["params"]) == {"r", "alpha", "a", "b", "p", "q", "gamma"}
    assert body["holdout"]["buckets"][2]["repeat"] == "7+"
    assert body["holdout_error"] == 0.008
    assert body["sample_customers"] == 2357
    assert {"as_of", "cutoff", "trained_at", "log_likelihood", "status"} <= set(body)


def test_agents_may_not_read_the_value_model(agent_user: Any, api_as: Any) -> None:
    ValueModelFitFactory()
    client = api_as(agent_user)

    assert client.get("/api/segments/value-models/").status_code == 403
    assert client.get("/api/segments/value-models/current/").status_code == 403


def test_before_the_first_fit_current_is_a_404(supervisor_user: Any, api_as: Any) -> None:
    ValueModelFitFactory(is_current=False, status=ChurnModelStatus.SKIPPED)
    client = api_as(supervisor_user)

    assert client.get("/api/segments/value-models/current/").status_code == 404
    assert len(client.get("/api/segments/value-models/").json()["results"]) == 1


def test_customer_metrics_api_carries_the_predictions(
    predicted: Any, agent_user: Any, api_as: Any
) -> None:
    body = api_as(agent_user).get(f"/api/customers/{predicted.pk}/metrics/").json()

    assert body["p_alive"] == 0.87
    assert body["expected_orders_90d"] == 1.24
    assert body["expected_orders_365d"] == 4.6
    assert body["expected_order_value"] == "512.30"
    assert body["predicted_value_365d"] == "2345.60"
    assert body["spend_lifetime"] == "320.00"
    assert body["value_potential"] == "grow"


def test_segment_members_api_carries_the_predictions(
    predicted: Any, supervisor_user: Any, api_as: Any
) -> None:
    segment = SegmentFactory()
    SegmentMembershipFactory(segment=segment, customer=predicted)
    unscored = CustomerFactory()
    CustomerMetricsFactory(customer=unscored)
    SegmentMembershipFactory(segment=segment, customer=unscored)

    rows = api_as(supervisor_user).get(f"/api/segments/{segment.pk}/members/").json()["results"]

    metrics = {row["customer_id"]: row["metrics"] for row in rows}
    assert metrics[predicted.pk]["predicted_value_365d"] == "2345.60"
    assert metrics[predicted.pk]["p_alive"] == 0.87
    assert metrics[predicted.pk]["value_potential"] == "grow"
    assert metrics[unscored.pk]["predicted_value_365d"] is None
    assert metrics[unscored.pk]["value_potential"] == ""


def test_screenpop_section_carries_the_predictions(
    predicted: Any, agent_user: Any, api_as: Any
) -> None:
    card = api_as(agent_user).get("/api/screenpop/", {"phone": "13800138222"}).json()

    metrics = card["segments"]["metrics"]
    assert metrics["p_alive"] == 0.87
    assert metrics["expected_orders_90d"] == 1.24
    assert metrics["expected_orders_365d"] == 4.6
    assert metrics["expected_order_value"] == "512.30"
    assert metrics["predicted_value_365d"] == "2345.60"
    assert metrics["spend_lifetime"] == "320.00"
    assert metrics["value_potential"] == "grow"


def test_screenpop_section_before_the_value_model_scored(agent_user: Any, api_as: Any) -> None:
    customer = CustomerFactory()
    PhoneFactory(customer=customer, value="+8613800138333")
    CustomerMetricsFactory(customer=customer)

    card = api_as(agent_user).get("/api/screenpop/", {"phone": "13800138333"}).json()

    metrics = card["segments"]["metrics"]
    assert metrics["predicted_value_365d"] is None
    assert metrics["p_alive"] is None
    assert metrics["value_potential"] is None
    assert metrics["spend_lifetime"] == "0.00"


def test_export_has_the_prediction_columns(predicted: Any, tmp_path: Any) -> None:
    unscored = CustomerFactory(name="Unscored")
    CustomerMetricsFactory(customer=unscored)
    target = tmp_path / "metrics.csv"

    call_command("export_metrics", str(target), stderr=io.StringIO())

    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert EXPORT_COLUMNS[-1] == "as_of"
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(text))}
    row = rows["Predicted"]
    assert row["spend_lifetime"] == "320.00"
    assert row["p_alive"] == "0.8700"
    assert row["expected_orders_90d"] == "1.2400"
    assert row["expected_orders_365d"] == "4.6000"
    assert row["expected_order_value"] == "512.30"
    assert row["predicted_value_365d"] == "2345.60"
    assert row["value_potential"] == "grow"
    assert row["as_of"]
    empty = rows["Unscored"]
    assert (empty["p_alive"], empty["predicted_value_365d"], empty["value_potential"]) == (
        "",
        "",
        "",
    )


def test_api_export_has_the_prediction_columns(
    predicted: Any, supervisor_user: Any, api_as: Any
) -> None:
    response = api_as(supervisor_user).get("/api/segments/export/")

    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["predicted_value_365d"] == "2345.60"
    assert rows[0]["value_potential"] == "grow"
