"""Clusters and churn: cluster profiles side by side, the churn model's state, the value model's
fits with their hold-out check, retraining both, and the customers most at risk."""

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from callcenter.http import AuthenticatedHttpRequest
from callcenter.jobs import enqueue_on_commit
from callcenter.views import role_required
from segments.selectors import churn_model_status, cluster_profiles_latest, value_model_status
from segments.selectors_ui import (
    most_at_risk,
    recently_lost,
    value_model_fit_rows,
    value_model_holdout,
    value_model_log_likelihoods,
    value_model_parameters,
)
from segments.tasks import churn_model_train_task
from segments.views import MANAGERS


@require_GET
@role_required(MANAGERS)
def clusters_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Cluster profiles, churn model status and attempts, the value model's fits and hold-out
    check, and the customers most at risk."""
    clusters = cluster_profiles_latest()
    state = churn_model_status()
    value = value_model_status()
    value_model = value["current"]
    context = {
        "clusters": clusters,
        "model": state["current"],
        "attempts": state["attempts"],
        "trained": state["trained"],
        "at_risk": most_at_risk(),
        "lost": recently_lost(),
        "value_model": value_model,
        "value_fits": value_model_fit_rows(value["fits"]),
        "value_trained": value["trained"],
        "value_parameters": value_model_parameters(value_model) if value_model else [],
        "value_log_likelihoods": value_model_log_likelihoods(value_model) if value_model else [],
        "holdout": value_model_holdout(value_model),
        "chart_data": {
            "labels": [f"{c.number}. {c.display_label}" for c in clusters],
            "r": [c.mean_r for c in clusters],
            "f": [c.mean_f for c in clusters],
            "m": [c.mean_m for c in clusters],
        },
    }
    return render(request, "segments/clusters.html", context)


@require_POST
@role_required(MANAGERS)
def churn_retrain_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Queue a retraining of the churn model on the latest history."""
    transaction.on_commit(churn_model_train_task.delay, robust=True)
    messages.success(
        request, _("Retraining queued. The new model scores customers from the next refresh.")
    )
    return redirect("clusters")


@require_POST
@role_required(MANAGERS)
def value_model_retrain_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Queue a fit of the value model on the latest history (by task name: the value model's
    task module is not imported by the pages)."""
    enqueue_on_commit("segments.tasks.value_model_train_task")
    messages.success(
        request,
        _("Value model retraining queued. The new fit scores customers from the next refresh."),
    )
    return redirect("clusters")
