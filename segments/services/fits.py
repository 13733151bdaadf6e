"""Storing one training of a versioned fitted model (churn model, value model)."""

from typing import TypeVar

from django.db import connection, transaction
from django.db.models import Max

from segments.models import FittedModel

FitT = TypeVar("FitT", bound=FittedModel)


@transaction.atomic
def versioned_fit_store(
    model: type[FitT], lock_key: int, *, status: str, make_current: bool, **fields: object
) -> FitT:
    """Write one training outcome of `model` with the next version; `make_current` moves the
    current flag to it.

    The advisory lock `lock_key` serialises "next version number + move the current flag"
    between trainings of the same model; each model keeps one current row (a unique partial
    index), so the old flag is cleared before the new one is set.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key])
    manager = model._default_manager
    version = (manager.aggregate(top=Max("version"))["top"] or 0) + 1
    if make_current:
        manager.filter(is_current=True).update(is_current=False)
    return manager.create(status=status, version=version, is_current=make_current, **fields)
