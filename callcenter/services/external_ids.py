"""External ids: the keys other systems know customers, interactions, tickets and surveys by.

Each is unique in its table. A write that would give a row an id another row has is refused
with an ApplicationError naming the field (a 400 in the API, nothing written), rather than left
to the database's unique constraint, which surfaced as a server error.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError


def _taken(model: type[models.Model], external_id: str, holder: Any) -> ApplicationError:
    extra: dict[str, Any] = {"field": "external_id"}
    if holder is not None:
        extra["conflict_id"] = holder
    return ApplicationError(
        _("external_id: %(value)s is already used by another %(object)s.")
        % {"value": external_id, "object": model._meta.verbose_name},
        extra=extra,
    )


def _violates_external_id(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return "external_id" in (getattr(diag, "constraint_name", None) or "")


@contextmanager
def external_id_unique(
    *, model: type[models.Model], external_id: str | None, exclude_pk: int | None = None
) -> Iterator[None]:
    """Run the write inside in a savepoint; when it gives a row of `model` an `external_id`
    another row (not `exclude_pk`) has, refuse it with the holder's id instead of failing on
    the unique constraint (concurrent writes included). The holder is looked up only then."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if not (external_id and _violates_external_id(exc)):
            raise
        holder = (
            model._default_manager.filter(external_id=external_id)
            .exclude(pk=exclude_pk)
            .values_list("pk", flat=True)
            .first()
        )
        raise _taken(model, external_id, holder) from exc
