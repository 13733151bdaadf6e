"""Identity resolution: finding likely duplicate customers and merging them.

The finder is a handful of set-based SQL statements over every active customer (no Python
loop, no cross join); it only proposes. A merge is always an explicit decision of a person
(`customer_merge` with the deciding user): it moves every row that points at the merged
customer to the survivor and leaves a `CustomerMerge` record and an audit entry behind.
"""

import json
import math
from dataclasses import dataclass
from typing import Any, cast

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerStatus,
    MergeProposalStatus,
)
from callcenter.errors import ApplicationError
from callcenter.models import ContactPoint, Customer, CustomerMerge, MergeProposal
from callcenter.services.audit import audit_log_record
from callcenter.services.customers import CONSENT_FIELDS, customer_consent_set

# --- Finder --------------------------------------------------------------------------------

# pg_trgm similarity two names need to count as "near-identical" ("Jon Smith" ~ "John Smith"
# is 0.62). Set per transaction so `%` (served by a GIN trigram index) uses it.
NAME_SIMILARITY_THRESHOLD = 0.6

# A phone or email shared by more customers than this is a shop, switchboard or placeholder
# address, not evidence that they are one person; pairing them all would be quadratic.
MAX_SHARED_VALUE_OWNERS = 10

# More namesakes than this with one birthday or company are different people (or one import
# run amok); pairing them all would flood the review queue and grow quadratically.
MAX_NAMESAKE_BLOCK = 10

# A city is a weak signal: it supports a name only when the name is rare in the whole base
# (at most this many active customers carry it) and only two namesakes live in that city.
# Two of the hundreds of Zhang Weis in Shanghai are no evidence of anything.
CITY_MAX_NAME_CARRIERS = 20
CITY_MAX_NAMESAKES = 2

# How much each piece of evidence alone says the two are one customer. A pair's score combines
# them as independent evidence: 1 - prod(1 - weight). A similar name counts only together with
# a supporting signal, whose weight is scaled by the name similarity.
SIGNAL_WEIGHTS = {
    "email": 0.8,
    "phone": 0.75,
    "birthday": 0.7,
    "company": 0.5,
    "city": 0.35,
}


# Memory each sort or hash of the finder may use before spilling to disk. Its largest sort at
# 1M customers (1.5M contact values) is about 110 MB; a handful of such nodes at once stays far
# inside the 4 GB budget of the deployment.
FINDER_WORK_MEM = "128MB"


def _min_trigrams(threshold: float) -> int:
    """How many trigrams a name needs before a different spelling can reach `threshold`.

    A one-character edit changes at least two trigrams, so a name with T trigrams is at most
    (T-2)/(T+1) similar to any other spelling: below ceil((2+t)/(1-t)) trigrams (7 at t=0.6)
    only identical names reach t, and those are paired by a plain equality join. This saves
    an index probe for most Chinese names (a five-character name has six trigrams).
    """
    return math.ceil((2 + threshold) / (1 - threshold)) if threshold < 1 else 10**6


# The finder runs as a few set-based statements over temporary tables (dropped at commit).
# Separate, analyzed steps keep the planner honest: as one statement it misjudged the
# trigram join by orders of magnitude and compared whole cities with each other.
_FINDER_STEPS = (
    (
        # Every active customer's supporting values, how many namesakes share each value
        # (block) and how many active customers carry the name at all (carriers).
        "identity_supports",
        r"""
        SELECT id, name, name_key, kind, key, display,
               CASE WHEN kind = 'city'
                    THEN block <= %(city_max_namesakes)s AND carriers <= %(city_max_carriers)s
                    ELSE block <= %(max_block)s
               END AS supports
        FROM (
            SELECT id, name, name_key, v.kind, v.key, v.display, carriers,
                   count(*) OVER (PARTITION BY name_key, v.kind, v.key) AS block
            FROM (
                SELECT *, count(*) OVER (PARTITION BY name_key) AS carriers
                FROM (
                    SELECT id, name, lower(translate(name, ' ' || chr(12288), '')) AS name_key,
                           NULLIF(btrim(city), '') AS city, birthday,
                           NULLIF(btrim(company_name), '') AS company
                    FROM callcenter_customer
                    WHERE status = %(active)s
                ) c
            ) c
            CROSS JOIN LATERAL (VALUES
                ('city', lower(city), city),
                ('birthday', birthday::text, birthday::text),
                ('company', lower(company), company)
            ) AS v(kind, key, display)
            WHERE v.key IS NOT NULL
        ) s
        """,
    ),
    (
        # Emails (active) and phone numbers (stored value and as entered, active or not: a
        # number given up by one customer and now used by another still links the two).
        "identity_values",
        r"""
        SELECT kind, key, customer_id, count(*) OVER (PARTITION BY kind, key) AS owners
        FROM (
            SELECT 'email' AS kind, lower(btrim(cp.value)) AS key, cp.customer_id
            FROM callcenter_contactpoint cp
            JOIN callcenter_customer c ON c.id = cp.customer_id AND c.status = %(active)s
            WHERE cp.kind = %(email)s AND cp.is_active
            UNION
            SELECT 'phone', key, customer_id FROM (
                -- Stored values are E.164 already; only what was typed needs reading.
                SELECT cp.customer_id, substr(cp.value, 2) AS key
                FROM callcenter_contactpoint cp
                JOIN callcenter_customer c ON c.id = cp.customer_id AND c.status = %(active)s
                WHERE cp.kind = %(phone)s AND cp.value LIKE '+%%'
                UNION ALL
                SELECT customer_id,
                       CASE
                           WHEN raw LIKE '+%%' THEN digits
                           WHEN digits LIKE '00%%' THEN substr(digits, 3)
                           WHEN digits LIKE '0%%' THEN %(cc)s || substr(digits, 2)
                           WHEN digits LIKE %(cc)s || '%%'
                                AND length(digits) > length(%(cc)s) + 6 THEN digits
                           ELSE %(cc)s || digits
                       END
                FROM (
                    SELECT cp.customer_id, btrim(v.raw) AS raw,
                           regexp_replace(v.raw, '\D', '', 'g') AS digits
                    FROM callcenter_contactpoint cp
                    JOIN callcenter_customer c
                      ON c.id = cp.customer_id AND c.status = %(active)s
                    CROSS JOIN LATERAL (
                        VALUES (CASE WHEN cp.value NOT LIKE '+%%' THEN cp.value END),
                               (NULLIF(cp.raw_value, cp.value))
                    ) AS v(raw)
                    WHERE cp.kind = %(phone)s AND v.raw <> ''
                ) r
                WHERE digits <> ''
            ) k
            WHERE length(key) BETWEEN 8 AND 15
        ) v
        """,
    ),
    (
        # The distinct names of active customers, to probe with `%` through a trigram index.
        "identity_names",
        "SELECT DISTINCT name FROM callcenter_customer WHERE status = %(active)s",
    ),
    (
        # Near-identical, different names: one GIN index probe per distinct name that is long
        # enough to have a near-identical spelling (never a cross join).
        "identity_similar",
        """
        SELECT n.name AS name_a, m.name AS name_b, similarity(n.name, m.name) AS similarity
        FROM identity_names n
        CROSS JOIN LATERAL (
            SELECT d.name FROM identity_names d WHERE d.name %% n.name AND d.name <> n.name
        ) m
        WHERE array_length(show_trgm(n.name), 1) >= %(min_trigrams)s
        """,
    ),
    (
        # Namesakes (identical or near-identical names) that share a supporting value; joined
        # on the name and the value together, so a common name is only ever compared within
        # one city, birthday or company.
        "identity_name_matches",
        """
        SELECT x.id AS a, y.id AS b, x.name AS name_a, y.name AS name_b,
               1.0::float AS similarity, x.kind, x.display
        FROM identity_supports x
        JOIN identity_supports y
          ON y.name_key = x.name_key AND y.kind = x.kind AND y.key = x.key AND x.id < y.id
        WHERE x.supports
        UNION ALL
        SELECT x.id, y.id, x.name, y.name, sn.similarity::float, x.kind, x.display
        FROM identity_similar sn
        JOIN identity_supports x ON x.name = sn.name_a
        JOIN identity_supports y
          ON y.name = sn.name_b AND y.kind = x.kind AND y.key = x.key AND x.id < y.id
        WHERE x.supports AND y.supports AND x.name_key <> y.name_key
        """,
    ),
)

_FINDER_WRITE_SQL = """
WITH signals AS (
    SELECT x.customer_id AS a, y.customer_id AS b, x.kind,
           CASE WHEN x.kind = 'phone' THEN '+' || x.key ELSE x.key END AS value,
           NULL::float AS similarity
    FROM identity_values x
    JOIN identity_values y ON y.kind = x.kind AND y.key = x.key AND x.customer_id < y.customer_id
    WHERE x.owners <= %(max_owners)s
    UNION ALL
    SELECT a, b, 'name',
           CASE WHEN name_a = name_b THEN name_a ELSE name_a || ' ~ ' || name_b END,
           max(similarity)
    FROM identity_name_matches GROUP BY a, b, name_a, name_b
    UNION ALL
    SELECT a, b, kind, display, max(similarity)
    FROM identity_name_matches GROUP BY a, b, kind, display
),
weighted AS (
    SELECT a, b, kind, value, similarity,
           CASE kind
               WHEN 'name' THEN 0.0
               WHEN 'email' THEN %(w_email)s
               WHEN 'phone' THEN %(w_phone)s
               WHEN 'birthday' THEN %(w_birthday)s * similarity
               WHEN 'company' THEN %(w_company)s * similarity
               WHEN 'city' THEN %(w_city)s * similarity
           END AS weight,
           CASE kind
               WHEN 'email' THEN 1 WHEN 'phone' THEN 2 WHEN 'name' THEN 3
               WHEN 'birthday' THEN 4 WHEN 'company' THEN 5 ELSE 6
           END AS position
    FROM signals
),
scored AS (
    SELECT a, b,
           round((1 - exp(sum(ln(1 - LEAST(weight, 0.99)))))::numeric, 4)::float AS score,
           jsonb_agg(
               CASE WHEN kind = 'name'
                    THEN jsonb_build_object(
                        'kind', kind, 'value', value, 'similarity', round(similarity::numeric, 2)
                    )
                    ELSE jsonb_build_object('kind', kind, 'value', value)
               END
               ORDER BY position, value
           ) AS reasons
    FROM weighted
    GROUP BY a, b
),
written AS (
    -- New pairs are inserted; an existing pair is updated only while it is open, so a
    -- dismissed (or merged) pair is never reopened.
    INSERT INTO callcenter_mergeproposal
        (customer_a_id, customer_b_id, score, reasons, status, created_at, updated_at)
    SELECT a, b, score, reasons, %(open)s, now(), now() FROM scored
    ON CONFLICT (customer_a_id, customer_b_id) DO UPDATE
        SET score = EXCLUDED.score, reasons = EXCLUDED.reasons, updated_at = EXCLUDED.updated_at
        WHERE callcenter_mergeproposal.status = %(open)s
          AND (callcenter_mergeproposal.score <> EXCLUDED.score
               OR callcenter_mergeproposal.reasons <> EXCLUDED.reasons)
    RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM scored),
       count(*) FILTER (WHERE inserted),
       count(*) FILTER (WHERE NOT inserted)
FROM written
"""


@dataclass(frozen=True)
class DuplicateScan:
    """What one run of the duplicate finder saw and wrote."""

    found: int
    created: int
    updated: int


@transaction.atomic
def merge_proposals_refresh(*, name_threshold: float = NAME_SIMILARITY_THRESHOLD) -> DuplicateScan:
    """Find candidate duplicate pairs among active customers and store them as proposals.

    Evidence: a shared email (active contact points), a shared phone number (stored value or
    as entered, active or inactive), or identical or near-identical names (pg_trgm) backed by
    the same birthday, city or company; a name alone is never enough. New pairs become open
    proposals; open proposals get the fresh score and reasons; merged and dismissed proposals
    are never touched (a dismissed pair stays dismissed). Safe to run any number of times.
    """
    if not 0 < name_threshold <= 1:
        raise ApplicationError(_("The name similarity threshold must be between 0 and 1."))
    params: dict[str, str | int | float] = {
        "active": CustomerStatus.ACTIVE,
        "email": ContactKind.EMAIL,
        "phone": ContactKind.PHONE,
        "open": MergeProposalStatus.OPEN,
        "cc": str(phonenumbers.country_code_for_region(settings.PHONE_DEFAULT_REGION)),
        "max_owners": MAX_SHARED_VALUE_OWNERS,
        "max_block": MAX_NAMESAKE_BLOCK,
        "city_max_namesakes": CITY_MAX_NAMESAKES,
        "city_max_carriers": CITY_MAX_NAME_CARRIERS,
        "min_trigrams": _min_trigrams(name_threshold),
        **{f"w_{kind}": weight for kind, weight in SIGNAL_WEIGHTS.items()},
    }
    with connection.cursor() as cursor:
        # Local to this transaction: `%` compares against this threshold; big sorts stay in
        # memory; JIT compilation cost seconds and won nothing on these statements.
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true), "
            "set_config('work_mem', %s, true), set_config('jit', 'off', true)",
            [str(name_threshold), FINDER_WORK_MEM],
        )
        for table, select in _FINDER_STEPS:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS {select}", params)
            if table == "identity_names":
                # Probing the distinct names rechecks each candidate name once, where probing
                # customer_name_trgm rechecks every namesake's row (0.3 ms against 15-20 ms per
                # probe measured at 1M customers).
                cursor.execute("CREATE INDEX ON identity_names USING gin (name gin_trgm_ops)")
            cursor.execute(f"ANALYZE {table}")
        cursor.execute(_FINDER_WRITE_SQL, params)
        found, created, updated = cursor.fetchone()
    return DuplicateScan(found=found, created=created, updated=updated)


# --- Merge ---------------------------------------------------------------------------------

# Empty profile fields of the survivor are filled from the merged customer. The name, kind,
# time zone and language always stay the survivor's (the latter two have defaults, so "empty"
# cannot be told from "chosen").
FILLABLE_FIELDS = (
    "company_name",
    "industry",
    "employee_count",
    "birthday",
    "city",
    "region",
    "advisor",
)

# The contact-point system under which a merged customer's external id is kept on the survivor.
MERGED_EXTERNAL_SYSTEM = "merged"

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


def _move_related_rows(*, survivor: Customer, merged: Customer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for fk in _relations_to_customer():
        label = _label(fk)
        rows = fk.model._base_manager.filter(**{fk.attname: merged.pk})
        kept = 0
        for conflict in _unique_conflicts(fk, survivor.pk):
            kept += rows.filter(conflict).count()
            rows = rows.exclude(conflict)
        try:
            with transaction.atomic():
                counts[label] = rows.update(**{fk.attname: survivor.pk}, **_touch(fk.model))
        except IntegrityError as exc:
            raise ApplicationError(
                _("The merge was stopped: rows of %(table)s could not be moved (%(error)s).")
                % {"table": label, "error": exc}
            ) from exc
        if kept:
            counts[f"{label}:kept_on_merged"] = kept
    return counts


def _move_contact_points(*, survivor: Customer, merged: Customer) -> dict[str, int]:
    """Move every contact point; an equal one the survivor already has is not lost.

    A contact point can exist once per customer (kind, system, value), so a twin stays on the
    merged customer, deactivated, as history; if it was active there, the survivor's copy is
    made active. Moved points never take the primary role from a survivor's active primary.
    """
    points = ContactPoint.objects.filter(customer_id=merged.pk)
    twin_of = ContactPoint.objects.filter(
        customer_id=survivor.pk,
        kind=OuterRef("kind"),
        system=OuterRef("system"),
        value=OuterRef("value"),
    )
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


def _snapshot(customer: Customer) -> dict[str, Any]:
    data: dict[str, Any] = {
        f.attname: getattr(customer, f.attname) for f in Customer._meta.concrete_fields
    }
    data["contact_points"] = list(
        ContactPoint.objects.filter(customer_id=customer.pk)
        .order_by("pk")
        .values("kind", "system", "value", "raw_value", "label", "is_primary", "is_active")
    )
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _close_proposals(
    *,
    survivor: Customer,
    merged: Customer,
    merged_by: User,
    proposal: MergeProposal | None,
) -> MergeProposal | None:
    """Settle proposals that involve the merged customer.

    The pair's own proposal is marked merged. Other open ones are re-pointed at the survivor
    (their evidence moved with the rows), unless the survivor already has a proposal with the
    same customer: then the duplicate is dismissed as superseded.
    """
    now = timezone.now()
    low, high = sorted((survivor.pk, merged.pk))
    pair = MergeProposal.objects.filter(customer_a_id=low, customer_b_id=high)
    if proposal is None:
        proposal = pair.filter(status=MergeProposalStatus.OPEN).first()
    if proposal is not None:
        proposal.status = MergeProposalStatus.MERGED
        proposal.decided_by = merged_by
        proposal.decided_at = now
        proposal.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    involving_merged = (
        MergeProposal.objects.filter(status=MergeProposalStatus.OPEN)
        .filter(Q(customer_a_id=merged.pk) | Q(customer_b_id=merged.pk))
        .exclude(customer_a_id=low, customer_b_id=high)
    )

    def survivor_paired_with(other: str) -> Exists:
        return Exists(
            MergeProposal.objects.filter(
                Q(customer_a_id=survivor.pk, customer_b_id=OuterRef(other))
                | Q(customer_a_id=OuterRef(other), customer_b_id=survivor.pk)
            )
        )

    involving_merged.filter(
        Q(customer_a_id=merged.pk) & survivor_paired_with("customer_b_id")
        | Q(customer_b_id=merged.pk) & survivor_paired_with("customer_a_id")
    ).update(
        status=MergeProposalStatus.DISMISSED, decided_by=merged_by, decided_at=now, updated_at=now
    )
    other_side = models.Case(
        models.When(customer_a_id=merged.pk, then=F("customer_b_id")),
        default=F("customer_a_id"),
    )
    involving_merged.update(
        customer_a_id=Least(other_side, survivor.pk),
        customer_b_id=Greatest(other_side, survivor.pk),
        updated_at=now,
    )
    return proposal


def _lock_pair(survivor: Customer, merged: Customer) -> tuple[Customer, Customer]:
    if survivor.pk == merged.pk:
        raise ApplicationError(_("A customer cannot be merged into itself."))
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise ApplicationError(_("Both customers must exist."))
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    if merged.status != CustomerStatus.ACTIVE:
        raise ApplicationError(
            _("Customer %(id)s was already merged into %(target)s.")
            % {"id": merged.pk, "target": merged.merged_into_id}
        )
    if survivor.status != CustomerStatus.ACTIVE:
        raise ApplicationError(
            _("Customer %(id)s was merged into %(target)s; merge into that customer instead.")
            % {"id": survivor.pk, "target": survivor.merged_into_id}
        )
    return survivor, merged


@transaction.atomic
def customer_merge(
    *,
    survivor: Customer,
    merged: Customer,
    merged_by: User,
    proposal: MergeProposal | None = None,
) -> CustomerMerge:
    """Fold `merged` into `survivor`, as decided by `merged_by`; returns the merge record.

    Every row pointing at the merged customer moves to the survivor (found through the model
    registry, so models of other apps move too); contact points are all kept; empty profile
    fields of the survivor are filled and custom attributes united (the survivor wins); the
    most restrictive consent wins and is recorded. The merged customer stays as a tombstone
    (status merged, `merged_into` the survivor, its external id kept so old references resolve
    and added to the survivor as an external contact id).
    """
    if merged_by is None or not merged_by.is_authenticated:
        raise ApplicationError(_("A merge must be decided by a signed-in user."))
    survivor, merged = _lock_pair(survivor, merged)
    if proposal is not None:
        proposal = MergeProposal.objects.select_for_update().get(pk=proposal.pk)
        if {proposal.customer_a_id, proposal.customer_b_id} != {survivor.pk, merged.pk}:
            raise ApplicationError(_("The proposal is about other customers."))
        if proposal.status != MergeProposalStatus.OPEN:
            raise ApplicationError(
                _("The proposal was already decided (%(status)s).")
                % {"status": proposal.get_status_display()}
            )
    snapshot = _snapshot(merged)

    moved = _move_contact_points(survivor=survivor, merged=merged)
    moved.update(_move_related_rows(survivor=survivor, merged=merged))
    if merged.external_id:
        ContactPoint.objects.update_or_create(
            customer=survivor,
            kind=ContactKind.EXTERNAL,
            system=MERGED_EXTERNAL_SYSTEM,
            value=merged.external_id,
            defaults={
                "raw_value": merged.external_id,
                "label": _("merged customer"),
                "is_active": True,
            },
        )

    filled = []
    for field in FILLABLE_FIELDS:
        attname = cast(models.Field, Customer._meta.get_field(field)).attname
        if getattr(survivor, attname) in (None, "") and getattr(merged, attname) not in (None, ""):
            setattr(survivor, attname, getattr(merged, attname))
            filled.append(field)
    survivor.attributes = {**(merged.attributes or {}), **(survivor.attributes or {})}
    survivor.save(update_fields=[*filled, "attributes", "updated_at"])

    merged.status = CustomerStatus.MERGED
    merged.merged_into = survivor
    merged.save(update_fields=["status", "merged_into", "updated_at"])

    consent = []
    for channel, field in CONSENT_FIELDS.items():
        if getattr(merged, field) and not getattr(survivor, field):
            customer_consent_set(
                customer=survivor,
                channel=channel,
                opted_out=True,
                source=ConsentSource.MERGE,
                changed_by=merged_by,
                note=_("Opted out on merged customer %(id)s.") % {"id": merged.pk},
            )
            consent.append(ConsentChannel(channel).value)

    proposal = _close_proposals(
        survivor=survivor, merged=merged, merged_by=merged_by, proposal=proposal
    )
    record = CustomerMerge.objects.create(
        survivor=survivor,
        merged=merged,
        merged_by=merged_by,
        snapshot=snapshot,
        moved=moved,
        proposal=proposal,
    )
    audit_log_record(
        actor=merged_by,
        action="customer.merge",
        object_type="customer",
        object_id=survivor.pk,
        data={
            "merged_id": merged.pk,
            "merge_id": record.pk,
            "proposal_id": proposal.pk if proposal else None,
            "moved": moved,
            "filled": filled,
            "consent_opted_out": consent,
        },
    )
    survivor.refresh_from_db()
    return record


@transaction.atomic
def merge_proposal_accept(
    *, proposal: MergeProposal, survivor_id: int, user: User
) -> CustomerMerge:
    """Merge the pair of an open proposal, keeping the customer `survivor_id` (A or B)."""
    if survivor_id == proposal.customer_a_id:
        merged_id = proposal.customer_b_id
    elif survivor_id == proposal.customer_b_id:
        merged_id = proposal.customer_a_id
    else:
        raise ApplicationError(_("The survivor must be one of the two customers of the proposal."))
    customers = Customer.objects.in_bulk([survivor_id, merged_id])
    return customer_merge(
        survivor=customers[survivor_id],
        merged=customers[merged_id],
        merged_by=user,
        proposal=proposal,
    )


@transaction.atomic
def merge_proposal_dismiss(*, proposal: MergeProposal, user: User) -> MergeProposal:
    """Decide that the pair is not one customer; the finder never proposes it again."""
    if user is None or not user.is_authenticated:
        raise ApplicationError(_("A proposal must be dismissed by a signed-in user."))
    proposal = MergeProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status == MergeProposalStatus.DISMISSED:
        return proposal
    if proposal.status != MergeProposalStatus.OPEN:
        raise ApplicationError(_("The customers of this proposal were already merged."))
    proposal.status = MergeProposalStatus.DISMISSED
    proposal.decided_by = user
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_log_record(
        actor=user,
        action="merge_proposal.dismiss",
        object_type="merge_proposal",
        object_id=proposal.pk,
        data={"customer_a": proposal.customer_a_id, "customer_b": proposal.customer_b_id},
    )
    return proposal
