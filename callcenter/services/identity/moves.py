"""Moving a merged customer's rows to the survivor: every relation to Customer in any app (found
through the model registry), keeping rows a uniqueness rule forbids to move; contact points
kept without duplicates."""

from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from django.db import IntegrityError, models
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from callcenter.choices import ContactKind, CustomerKind
from callcenter.errors import ApplicationError
from callcenter.models import ContactPoint, Customer, CustomerMerge, MergeProposal
from callcenter.moved_rows import moved_rows_retried

# Relations to Customer the merge handles itself instead of moving rows.
_NOT_MOVED = (MergeProposal, CustomerMerge, ContactPoint)


def _relations_to_customer() -> list[models.ForeignKey]:
    """Every foreign key (or one-to-one) pointing at Customer, in any installed app.

    Includes hidden ones (`related_name="+"`, many-to-many through tables) so that models
    other apps add later are moved too.
    """
    fks = []
    for rel in Customer._meta.get_fields(include_hidden=True):
        if not (isinstance(rel, models.ManyToOneRel) and rel.auto_created and not rel.concrete):
            continue
        if issubclass(rel.related_model, _NOT_MOVED):
            continue
        fks.append(rel.field)
    return sorted(fks, key=lambda fk: (fk.model._meta.label_lower, fk.name))


def _unique_conflicts(fk: models.ForeignKey, survivor_id: int) -> list[Q]:
    """Conditions matching rows that cannot move because the survivor has an equal one.

    Derived from the model's uniqueness rules that include the foreign key (one-to-one,
    unique=True, unique_together and field-based UniqueConstraints, honouring their
    condition). The survivor's row wins; the merged customer keeps its own as history.
    """
    model = fk.model
    unique_sets: list[tuple[tuple[str, ...], Q | None]] = []
    if fk.unique:
        unique_sets.append(((), None))
    for fields in model._meta.unique_together:
        if fk.name in fields:
            unique_sets.append((tuple(f for f in fields if f != fk.name), None))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and fk.name in constraint.fields:
            others = tuple(f for f in constraint.fields if f != fk.name)
            unique_sets.append((others, constraint.condition))
    conflicts = []
    for others, condition in unique_sets:
        twin = model._base_manager.filter(**{fk.attname: survivor_id})
        twin = twin.filter(**{name: OuterRef(name) for name in others})
        if condition is not None:
            twin = twin.filter(condition)
            conflicts.append(condition & Q(Exists(twin)))
        else:
            conflicts.append(Q(Exists(twin)))
    return conflicts


def _label(fk: models.ForeignKey) -> str:
    """`app.model` for the usual `customer` key, `app.model.field` for any other."""
    label = fk.model._meta.label_lower
    return label if fk.name == "customer" else f"{label}.{fk.name}"


def _touch(model: type[models.Model]) -> dict[str, Any]:
    """`updated_at`-style fields to bump in a bulk update (update() skips auto_now)."""
    now = timezone.now()
    return {
        f.attname: now
        for f in model._meta.concrete_fields
        if isinstance(f, models.DateTimeField) and f.auto_now
    }


def move_related_rows(*, survivor: Customer, merged: Customer) -> dict[str, int]:
    """Point every row of another model at the survivor instead of `merged`; counts moved (and
    kept on the merged customer, when the survivor has an equal row) per relation."""
    counts: dict[str, int] = {}
    for fk in _relations_to_customer():
        label = _label(fk)
        rows = fk.model._base_manager.filter(**{fk.attname: merged.pk})
        kept = 0
        for conflict in _unique_conflicts(fk, survivor.pk):
            kept += rows.filter(conflict).count()
            rows = rows.exclude(conflict)
        try:
            counts[label] = moved_rows_retried(
                partial(rows.update, **{fk.attname: survivor.pk}, **_touch(fk.model))
            )
        except IntegrityError as exc:
            raise ApplicationError(
                _("The merge was stopped: rows of %(table)s could not be moved (%(error)s).")
                % {"table": label, "error": exc}
            ) from exc
        if kept:
            counts[f"{label}:kept_on_merged"] = kept
    return counts


def _twin_on(survivor: Customer) -> models.QuerySet[ContactPoint]:
    """The survivor's contact point equal (kind, system, value) to the outer query's point."""
    return ContactPoint.objects.filter(
        customer_id=survivor.pk,
        kind=OuterRef("kind"),
        system=OuterRef("system"),
        value=OuterRef("value"),
    )


def move_contact_points(*, survivor: Customer, merged: Customer) -> dict[str, int]:
    """Move every contact point; an equal one the survivor already has is not lost.

    A contact point can exist once per customer (kind, system, value), so a twin stays on the
    merged customer, deactivated, as history; if it was active there, the survivor's copy is
    made active. Moved points never take the primary role from a survivor's active primary.
    """
    points = ContactPoint.objects.filter(customer_id=merged.pk)
    twin_of = _twin_on(survivor)
    twins = points.filter(Exists(twin_of))
    reactivate = list(
        ContactPoint.objects.filter(customer_id=survivor.pk, is_active=False)
        .filter(
            Exists(
                ContactPoint.objects.filter(
                    customer_id=merged.pk,
                    is_active=True,
                    kind=OuterRef("kind"),
                    system=OuterRef("system"),
                    value=OuterRef("value"),
                )
            )
        )
        .values_list("pk", flat=True)
    )
    now = timezone.now()
    deactivated = twins.update(is_active=False, is_primary=False, updated_at=now)
    ContactPoint.objects.filter(pk__in=reactivate).update(is_active=True, updated_at=now)
    movable = points.exclude(Exists(twin_of))
    survivor_primary_kinds = ContactPoint.objects.filter(
        customer_id=survivor.pk, is_primary=True, is_active=True
    ).values("kind")
    movable.filter(kind__in=survivor_primary_kinds).update(is_primary=False)
    moved = movable.update(customer_id=survivor.pk, updated_at=now)
    counts = {ContactPoint._meta.label_lower: moved}
    if deactivated:
        counts[f"{ContactPoint._meta.label_lower}:deactivated_duplicates"] = deactivated
    return counts


@dataclass(frozen=True)
class MergePreview:
    """What a merge of `merged` into `survivor` would move, counted before anything moves: the
    contact points by kind (twins the survivor already holds stay behind as history) and the
    rows of every other relation, keyed like `CustomerMerge.moved`."""

    contact_points: dict[str, int]
    contact_duplicates: int
    rows: dict[str, int]
    labels: dict[str, str]


def _row_count(rows: models.QuerySet[Any], attname: str) -> Coalesce:
    """The number of `rows` (all pointing at one customer through `attname`) as a subquery."""
    counted = rows.order_by().values(attname).annotate(n=Count("*")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=models.IntegerField()), 0)


def _relation_label(fk: models.ForeignKey) -> str:
    """The rows of a relation in words: the model's plural name, and the field's name when the
    relation is not the model's usual `customer` key."""
    plural = str(capfirst(fk.model._meta.verbose_name_plural))
    return plural if fk.name == "customer" else f"{plural} ({fk.verbose_name})"


def merge_moves_preview(*, survivor: Customer, merged: Customer) -> MergePreview:
    """Count what `customer_merge` would move from `merged` to `survivor`, in one query.

    Mirrors `move_contact_points` and `move_related_rows` (rows a uniqueness rule keeps on the
    merged customer are not counted) and the merge's account rule: a survivor that is not a
    business takes no contacts (they are unlinked, not moved)."""
    points = ContactPoint.objects.filter(customer_id=merged.pk)
    twin_of = _twin_on(survivor)
    annotations: dict[str, Coalesce] = {
        "twins": _row_count(points.filter(Exists(twin_of)), "customer_id")
    }
    for kind in ContactKind.values:
        movable = points.filter(kind=kind).exclude(Exists(twin_of))
        annotations[f"kind_{kind}"] = _row_count(movable, "customer_id")
    relations = {}
    for index, fk in enumerate(_relations_to_customer()):
        rows = fk.model._base_manager.filter(**{fk.attname: merged.pk})
        if fk.model is Customer and fk.name == "account":
            if survivor.kind != CustomerKind.BUSINESS:
                continue
            rows = rows.exclude(pk=survivor.pk)
        for conflict in _unique_conflicts(fk, survivor.pk):
            rows = rows.exclude(conflict)
        relations[f"rel_{index}"] = fk
        annotations[f"rel_{index}"] = _row_count(rows, fk.attname)
    # The stubs type values(**expressions) as a TypedDict without keys.
    counts = cast(dict[str, int], Customer.objects.filter(pk=merged.pk).values(**annotations).get())
    moving = {_label(fk): counts[alias] for alias, fk in relations.items() if counts[alias]}
    return MergePreview(
        contact_points={
            kind: counts[f"kind_{kind}"] for kind in ContactKind.values if counts[f"kind_{kind}"]
        },
        contact_duplicates=counts["twins"],
        rows=moving,
        labels={_label(fk): _relation_label(fk) for fk in relations.values()},
    )
