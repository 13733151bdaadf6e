"""Creating, changing and deleting segments; every change is validated and audited."""

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.text import slugify
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.services.audit import audit_log_record
from segments.choices import PriorityField, SegmentKind
from segments.models import Segment
from segments.rules import rule_dependencies, rule_validate, segment_dependency_order

# What may change on a built-in segment (its members come from scores, not from a rule).
BUILTIN_EDITABLE = frozenset({"description", "capacity", "priority_field", "priority_descending"})
RULE_EDITABLE = BUILTIN_EDITABLE | {"name", "rule", "is_active"}


def _unique_slug(name: str, exclude_pk: int | None = None) -> str:
    base = slugify(name, allow_unicode=False)[:100] or "segment"
    base = f"rule-{base}"
    slug, counter = base, 2
    others = Segment.objects.all() if exclude_pk is None else Segment.objects.exclude(pk=exclude_pk)
    while others.filter(slug=slug).exists():
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


# The largest capacity a segment takes (far above any customer base this serves; the column
# holds up to 2**31 - 1).
MAX_CAPACITY = 100_000_000


def _validate(values: dict[str, Any], segment: Segment | None) -> None:
    if "name" in values and not str(values["name"] or "").strip():
        raise ApplicationError(_("The name must not be empty."))
    if "priority_field" in values and values["priority_field"] not in PriorityField.values:
        raise ApplicationError(
            _("Unknown priority: %(value)s") % {"value": values["priority_field"]}
        )
    capacity = values.get("capacity")
    if capacity is not None and (not isinstance(capacity, int) or capacity < 1):
        raise ApplicationError(_("The capacity must be a positive whole number or empty."))
    if capacity is not None and capacity > MAX_CAPACITY:
        raise ApplicationError(
            _("The capacity must be at most %(max)d.") % {"max": MAX_CAPACITY},
            extra={"field": "capacity"},
        )
    if "rule" in values:
        tree = values["rule"]
        rule_validate(tree=tree)
        slug = segment.slug if segment is not None else None
        if slug is not None and slug in rule_dependencies(tree=tree):
            raise ApplicationError(_("A segment cannot refer to itself."))
        others = {
            s.slug: s.rule for s in Segment.objects.filter(kind=SegmentKind.RULE).exclude(slug=slug)
        }
        others[slug or "__new__"] = tree
        segment_dependency_order(segments=others)


@transaction.atomic
def segment_create(
    *,
    name: str,
    rule: dict[str, Any],
    created_by: User | None,
    description: str = "",
    capacity: int | None = None,
    priority_field: str = PriorityField.MONETARY,
    priority_descending: bool = True,
) -> Segment:
    """Create a rule segment. Its members appear at the next refresh."""
    values = {
        "name": name,
        "rule": rule,
        "capacity": capacity,
        "priority_field": priority_field,
    }
    _validate(values, None)
    segment = Segment.objects.create(
        name=name.strip(),
        slug=_unique_slug(name),
        kind=SegmentKind.RULE,
        rule=rule,
        description=description,
        capacity=capacity,
        priority_field=priority_field,
        priority_descending=priority_descending,
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
    )
    audit_log_record(
        actor=created_by,
        action="segment.create",
        object_type="segment",
        object_id=segment.pk,
        data={"name": segment.name, "rule": rule, "capacity": capacity},
    )
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, updated_by: User | None, **fields: Any) -> Segment:
    """Change a segment; built-in segments only take capacity, priority and description."""
    allowed = RULE_EDITABLE if segment.kind == SegmentKind.RULE else BUILTIN_EDITABLE
    refused = set(fields) - allowed
    if refused:
        raise ApplicationError(
            _("These fields cannot be changed on this segment: %(fields)s")
            % {"fields": ", ".join(sorted(refused))}
        )
    _validate(fields, segment)
    before = {name: getattr(segment, name) for name in fields}
    for name, value in fields.items():
        setattr(segment, name, value.strip() if name == "name" else value)
    segment.save()
    audit_log_record(
        actor=updated_by,
        action="segment.update",
        object_type="segment",
        object_id=segment.pk,
        data={"before": before, "after": fields},
    )
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, deleted_by: User | None) -> None:
    """Delete a rule segment (and its membership history); built-in ones cannot be deleted."""
    if segment.kind != SegmentKind.RULE:
        raise ApplicationError(_("Built-in segments cannot be deleted; deactivate them."))
    dependants = [
        s.name
        for s in Segment.objects.filter(kind=SegmentKind.RULE).exclude(pk=segment.pk)
        if segment.slug in rule_dependencies(tree=s.rule)
    ]
    if dependants:
        raise ApplicationError(
            _("Other segments refer to this one: %(names)s") % {"names": ", ".join(dependants)}
        )
    segment_id = segment.pk
    # Waits for a refresh writing this segment's memberships (they carry no foreign-key
    # constraint, see segments.models), so the delete below takes them with it.
    list(Segment.objects.select_for_update().filter(pk=segment_id).values_list("pk"))
    try:
        with transaction.atomic():
            segment.delete()
    except ProtectedError as exc:
        # Rows of the apps above (campaigns sending to this segment) keep it.
        names = sorted({str(obj) for obj in exc.protected_objects})[:5]
        raise ApplicationError(
            _("The segment is still used by: %(names)s") % {"names": ", ".join(names)}
        ) from exc
    audit_log_record(
        actor=deleted_by,
        action="segment.delete",
        object_type="segment",
        object_id=segment_id,
        data={"name": segment.name, "rule": segment.rule},
    )
