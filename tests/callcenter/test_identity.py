"""Identity resolution: the duplicate finder, the merge, and their API."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerStatus,
    MergeProposalStatus,
    Role,
)
from callcenter.errors import ApplicationError
from callcenter.models import (
    AuditLog,
    ConsentChange,
    ContactPoint,
    Customer,
    CustomerMerge,
    Interaction,
    MergeProposal,
    Order,
    SurveyResponse,
    Ticket,
)
from callcenter.selectors.customers import customer_search
from callcenter.services.identity import (
    CITY_MAX_NAME_CARRIERS,
    CITY_MAX_NAMESAKES,
    MAX_SHARED_VALUE_OWNERS,
    SIGNAL_WEIGHTS,
    customer_merge,
    merge_proposal_accept,
    merge_proposal_dismiss,
    merge_proposals_refresh,
)
from callcenter.services.identity.moves import _relations_to_customer, _unique_conflicts
from tests.callcenter.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def person(name: str, city: str = "", **fields: object) -> Customer:
    """A customer with only the given identifying fields (no random name or city)."""
    return CustomerFactory(name=name, city=city, **fields)


def proposal_for(a: Customer, b: Customer) -> MergeProposal | None:
    low, high = sorted((a.pk, b.pk))
    return MergeProposal.objects.filter(customer_a_id=low, customer_b_id=high).first()


def reason_kinds(proposal: MergeProposal) -> list[str]:
    return [reason["kind"] for reason in proposal.reasons]


@pytest.fixture
def supervisor() -> object:
    return UserFactory(role=Role.SUPERVISOR, username="merge-supervisor")


# --- finder ---------------------------------------------------------------------------------


def test_finder_pairs_customers_sharing_an_email() -> None:
    # given
    first, second, other = person("Alice Wong"), person("A. Wong"), person("Bob Lee")
    EmailFactory(customer=first, value="alice@example.com")
    EmailFactory(customer=second, value="alice@example.com")
    EmailFactory(customer=other, value="bob@example.com")
    # when
    scan = merge_proposals_refresh()
    # then
    proposal = proposal_for(first, second)
    assert proposal is not None
    assert proposal.customer_a_id < proposal.customer_b_id
    assert proposal.status == MergeProposalStatus.OPEN
    assert proposal.reasons == [{"kind": "email", "value": "alice@example.com"}]
    assert 0 < proposal.score <= 1
    assert scan.found == scan.created == 1


def test_finder_ignores_an_inactive_email() -> None:
    first, second = person("Alice Wong"), person("Carol Chen")
    EmailFactory(customer=first, value="shared@example.com")
    EmailFactory(customer=second, value="shared@example.com", is_active=False)

    merge_proposals_refresh()

    assert proposal_for(first, second) is None


def test_finder_pairs_a_phone_given_up_by_one_customer_and_used_by_another() -> None:
    old_owner, new_owner = person("Dave Li"), person("Erin Zhou")
    PhoneFactory(customer=old_owner, value="+8613800138000", is_active=False, is_primary=False)
    PhoneFactory(customer=new_owner, value="+8613800138000")

    merge_proposals_refresh()

    proposal = proposal_for(old_owner, new_owner)
    assert proposal is not None
    assert proposal.reasons == [{"kind": "phone", "value": "+8613800138000"}]


@pytest.mark.parametrize(
    ("stored", "raw", "other"),
    [
        # a legacy value that was never normalized
        ("138 0013 8000", "", "+8613800138000"),
        # the number as typed, national landline format
        ("+861065529988", "(010) 6552 9988", "+861065529988"),
        # as typed with the 00 international prefix
        ("+8613900139000", "0086-139-0013-9000", "+8613900139000"),
    ],
)
def test_finder_reads_phone_numbers_in_the_forms_people_type(
    stored: str, raw: str, other: str
) -> None:
    first, second = person("Frank Wu"), person("Grace Xu")
    ContactPoint.objects.create(
        customer=first, kind=ContactKind.PHONE, value=stored, raw_value=raw, is_active=False
    )
    PhoneFactory(customer=second, value=other)

    merge_proposals_refresh()

    proposal = proposal_for(first, second)
    assert proposal is not None
    assert {"kind": "phone", "value": other} in proposal.reasons


def test_finder_pairs_near_identical_names_in_the_same_city() -> None:
    # given: a typo of a rare name, same city, nothing else in common
    jon, john = person("Jon Smithfield", "杭州"), person("John Smithfield", "杭州")
    elsewhere = person("John Smithfield", "成都")
    # when
    merge_proposals_refresh()
    # then
    proposal = proposal_for(jon, john)
    assert proposal is not None
    assert reason_kinds(proposal) == ["name", "city"]
    assert proposal.reasons[0]["value"] == "Jon Smithfield ~ John Smithfield"
    similarity = proposal.reasons[0]["similarity"]
    assert 0.6 <= similarity < 1
    assert proposal.score == pytest.approx(SIGNAL_WEIGHTS["city"] * similarity, abs=0.01)
    assert proposal_for(john, elsewhere) is None
    assert proposal_for(jon, elsewhere) is None


def test_finder_pairs_identical_chinese_names_with_the_same_birthday() -> None:
    first = person("王小明", "上海", birthday=dt.date(1990, 5, 1))
    second = person("王 小明", "北京", birthday=dt.date(1990, 5, 1))

    merge_proposals_refresh()

    proposal = proposal_for(first, second)
    assert proposal is not None
    assert reason_kinds(proposal) == ["name", "birthday"]
    assert proposal.reasons[1] == {"kind": "birthday", "value": "1990-05-01"}


def test_finder_pairs_identical_names_of_the_same_company() -> None:
    first = person("李娜", "上海", company_name="Acme 上海")
    second = person("李娜", "深圳", company_name="acme 上海 ")

    merge_proposals_refresh()

    proposal = proposal_for(first, second)
    assert proposal is not None
    assert reason_kinds(proposal) == ["name", "company"]


def test_a_common_name_alone_is_not_enough() -> None:
    # given: two 张伟 with nothing else in common
    first = person("张伟", "上海", birthday=dt.date(1985, 1, 1))
    second = person("张伟", "北京", birthday=dt.date(1992, 3, 4))
    # when
    scan = merge_proposals_refresh()
    # then
    assert proposal_for(first, second) is None
    assert scan.found == 0


def test_a_common_name_in_the_same_city_is_not_enough() -> None:
    # given: 张伟 is carried by many customers; two of them live in Shanghai
    shanghai = [person("张伟", "上海") for _ in range(2)]
    for index in range(25):
        person("张伟", f"城市{index}")
    assert CITY_MAX_NAME_CARRIERS < 27
    # when
    merge_proposals_refresh()
    # then
    assert proposal_for(*shanghai) is None
    assert MergeProposal.objects.count() == 0


def test_many_namesakes_in_one_city_are_not_paired() -> None:
    for _ in range(CITY_MAX_NAMESAKES + 1):
        person("欧阳娜娜", "苏州")

    merge_proposals_refresh()

    assert MergeProposal.objects.count() == 0


def test_a_rare_name_shared_by_two_in_one_city_is_proposed() -> None:
    first, second = person("欧阳娜娜", "苏州"), person("欧阳娜娜", "苏州")

    merge_proposals_refresh()

    proposal = proposal_for(first, second)
    assert proposal is not None
    assert reason_kinds(proposal) == ["name", "city"]


def test_a_placeholder_email_shared_by_many_is_no_evidence() -> None:
    customers = [person(f"Customer {i}") for i in range(MAX_SHARED_VALUE_OWNERS + 1)]
    for customer in customers:
        EmailFactory(customer=customer, value="noreply@shop.example")

    merge_proposals_refresh()

    assert MergeProposal.objects.count() == 0


def test_merged_customers_are_not_proposed() -> None:
    survivor, gone = person("Helen Ma"), person("Ivan Ma")
    gone.status, gone.merged_into = CustomerStatus.MERGED, survivor
    gone.save()
    EmailFactory(customer=survivor, value="ma@example.com")
    EmailFactory(customer=gone, value="ma@example.com")

    merge_proposals_refresh()

    assert MergeProposal.objects.count() == 0


def test_several_signals_raise_the_score_and_are_all_listed() -> None:
    email_only = (person("Jack Sun"), person("Jake Moon"))
    both = (person("Kate Lin", birthday=dt.date(1980, 2, 2)), person("Kate Lin"))
    for pair, address in ((email_only, "jack@example.com"), (both, "kate@example.com")):
        for customer in pair:
            EmailFactory(customer=customer, value=address)
    PhoneFactory(customer=both[0], value="+8613700137000", is_active=False, is_primary=False)
    PhoneFactory(customer=both[1], value="+8613700137000")

    merge_proposals_refresh()

    weak, strong = proposal_for(*email_only), proposal_for(*both)
    assert reason_kinds(strong) == ["email", "phone"]
    assert strong.score > weak.score


def test_refresh_is_idempotent() -> None:
    first, second = person("Liam Hu"), person("Liam Hu")
    EmailFactory(customer=first, value="liam@example.com")
    EmailFactory(customer=second, value="liam@example.com")
    first_scan = merge_proposals_refresh()
    before = list(MergeProposal.objects.values("id", "score", "reasons", "updated_at"))

    second_scan = merge_proposals_refresh()

    assert first_scan.created == 1
    assert (second_scan.found, second_scan.created, second_scan.updated) == (1, 0, 0)
    assert list(MergeProposal.objects.values("id", "score", "reasons", "updated_at")) == before


def test_refresh_updates_the_evidence_of_open_proposals() -> None:
    first, second = person("Mia Guo"), person("Mia G.")
    EmailFactory(customer=first, value="mia@example.com")
    EmailFactory(customer=second, value="mia@example.com")
    merge_proposals_refresh()
    PhoneFactory(customer=first, value="+8613600136000", is_active=False, is_primary=False)
    PhoneFactory(customer=second, value="+8613600136000")

    scan = merge_proposals_refresh()

    proposal = proposal_for(first, second)
    assert (scan.created, scan.updated) == (0, 1)
    assert reason_kinds(proposal) == ["email", "phone"]


def test_a_dismissed_pair_stays_dismissed(supervisor: object) -> None:
    first, second = person("Noah Xie"), person("Noah Xie")
    EmailFactory(customer=first, value="noah@example.com")
    EmailFactory(customer=second, value="noah@example.com")
    merge_proposals_refresh()
    proposal = proposal_for(first, second)
    merge_proposal_dismiss(proposal=proposal, user=supervisor)
    PhoneFactory(customer=first, value="+8613500135000", is_active=False, is_primary=False)
    PhoneFactory(customer=second, value="+8613500135000")

    scan = merge_proposals_refresh()

    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.DISMISSED
    assert reason_kinds(proposal) == ["email"]
    assert (scan.found, scan.created, scan.updated) == (1, 0, 0)


def test_find_duplicates_command_reports_what_it_found() -> None:
    first, second = person("Olivia Fan"), person("Olivia Fan")
    EmailFactory(customer=first, value="olivia@example.com")
    EmailFactory(customer=second, value="olivia@example.com")
    out = StringIO()

    call_command("find_duplicates", stdout=out)
    call_command("find_duplicates", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Found 1 duplicate pairs: 1 new proposals, 0 open")
    assert lines[1].startswith("Found 1 duplicate pairs: 0 new proposals, 0 open")


# --- merge ----------------------------------------------------------------------------------


@pytest.fixture
def pair() -> tuple[Customer, Customer]:
    survivor = person("Peter Pan", "", external_id="CRM-1", attributes={"tier": "gold"})
    merged = person(
        "P. Pan",
        "上海",
        external_id="SHOP-9",
        birthday=dt.date(1970, 7, 7),
        region="华东",
        attributes={"tier": "silver", "source": "shop"},
        sms_opt_out=True,
    )
    return survivor, merged


def test_merge_moves_every_related_row(pair: tuple[Customer, Customer], supervisor) -> None:
    # given: rows of every kind on both customers, and one customer merged earlier
    survivor, merged = pair
    OrderFactory(customer=survivor)
    OrderFactory.create_batch(2, customer=merged)
    InteractionFactory.create_batch(3, customer=merged, agent=supervisor)
    ticket = TicketFactory(customer=merged)
    SurveyFactory(customer=merged, ticket=ticket)
    ConsentChange.objects.create(
        customer=merged,
        channel=ConsentChannel.SMS,
        opted_out=True,
        source=ConsentSource.AGENT,
        changed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    PhoneFactory(customer=merged, value="+8613100131000")
    earlier = person("Old P. Pan")
    earlier.status, earlier.merged_into = CustomerStatus.MERGED, merged
    earlier.save()
    # when
    record = customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)
    # then: nothing points at the merged customer any more
    for fk in _relations_to_customer():
        left = fk.model._base_manager.filter(**{fk.attname: merged.pk}).count()
        assert left == 0, fk.model._meta.label
    assert ContactPoint.objects.filter(customer=merged).count() == 0
    assert Order.objects.filter(customer=survivor).count() == 3
    assert Interaction.objects.filter(customer=survivor).count() == 3
    assert Ticket.objects.filter(customer=survivor).count() == 1
    assert SurveyResponse.objects.get().customer_id == survivor.pk
    assert ConsentChange.objects.filter(customer=survivor, source=ConsentSource.AGENT).count() == 1
    earlier.refresh_from_db()
    assert earlier.merged_into_id == survivor.pk
    assert record.moved["callcenter.order"] == 2
    assert record.moved["callcenter.interaction"] == 3
    assert record.moved["callcenter.ticket"] == 1
    assert record.moved["callcenter.surveyresponse"] == 1
    assert record.moved["callcenter.consentchange"] == 1
    assert record.moved["callcenter.contactpoint"] == 1
    assert record.moved["callcenter.customer.merged_into"] == 1


def test_merge_marks_the_merged_customer_and_records_it(
    pair: tuple[Customer, Customer], supervisor
) -> None:
    survivor, merged = pair

    record = customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)

    merged.refresh_from_db()
    assert merged.status == CustomerStatus.MERGED
    assert merged.merged_into_id == survivor.pk
    assert merged.external_id == "SHOP-9"
    assert record.survivor_id == survivor.pk
    assert record.merged_by_id == supervisor.pk
    assert record.snapshot["name"] == "P. Pan"
    assert record.snapshot["external_id"] == "SHOP-9"
    audit = AuditLog.objects.get(action="customer.merge")
    assert audit.actor_id == supervisor.pk
    assert audit.object_id == str(survivor.pk)
    assert audit.data["merged_id"] == merged.pk
    assert audit.data["moved"] == record.moved


def test_merge_fills_empty_profile_fields_and_unites_attributes(
    pair: tuple[Customer, Customer], supervisor
) -> None:
    survivor, merged = pair

    customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)

    survivor.refresh_from_db()
    assert survivor.name == "Peter Pan"
    assert survivor.external_id == "CRM-1"
    assert survivor.city == "上海"
    assert survivor.birthday == dt.date(1970, 7, 7)
    assert survivor.region == "华东"
    assert survivor.attributes == {"tier": "gold", "source": "shop"}


def test_the_merged_external_id_finds_the_survivor(
    pair: tuple[Customer, Customer], supervisor
) -> None:
    survivor, merged = pair

    customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)

    point = ContactPoint.objects.get(customer=survivor, kind=ContactKind.EXTERNAL)
    assert (point.system, point.value, point.is_active) == ("merged", "SHOP-9", True)
    assert list(customer_search("SHOP-9")) == [survivor]


def test_the_most_restrictive_consent_wins_and_is_recorded(
    pair: tuple[Customer, Customer], supervisor
) -> None:
    survivor, merged = pair
    survivor.call_opt_out = True
    survivor.save()

    customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)

    survivor.refresh_from_db()
    assert survivor.sms_opt_out is True
    assert survivor.call_opt_out is True
    assert survivor.email_opt_out is False
    assert survivor.consent_source == ConsentSource.MERGE
    change = ConsentChange.objects.get(customer=survivor, source=ConsentSource.MERGE)
    assert (change.channel, change.opted_out, change.changed_by_id) == (
        ConsentChannel.SMS,
        True,
        supervisor.pk,
    )


def test_merge_keeps_every_contact_point(supervisor) -> None:
    # given
    survivor, merged = person("Quinn Yu"), person("Quinn Yu")
    PhoneFactory(customer=survivor, value="+8613000130001", is_primary=True)
    PhoneFactory(customer=survivor, value="+8613000130003", is_active=False, is_primary=False)
    EmailFactory(customer=survivor, value="quinn@example.com")
    PhoneFactory(customer=merged, value="+8613000130002", is_primary=True)
    PhoneFactory(customer=merged, value="+8613000130001", is_active=False, is_primary=False)
    PhoneFactory(customer=merged, value="+8613000130003", is_primary=False)
    EmailFactory(customer=merged, value="quinn@example.com")
    EmailFactory(customer=merged, value="quinn.work@example.com", is_primary=False)
    # when
    record = customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)
    # then: every value is on the survivor, the survivor's primary phone stays primary
    points = {
        (p.kind, p.value): (p.is_primary, p.is_active)
        for p in ContactPoint.objects.filter(customer=survivor).exclude(kind="external")
    }
    assert points == {
        ("phone", "+8613000130001"): (True, True),
        ("phone", "+8613000130002"): (False, True),
        ("phone", "+8613000130003"): (False, True),
        ("email", "quinn@example.com"): (True, True),
        ("email", "quinn.work@example.com"): (False, True),
    }
    # and the twins stay on the merged customer as inactive history
    assert set(ContactPoint.objects.filter(customer=merged).values_list("value", "is_active")) == {
        ("+8613000130001", False),
        ("+8613000130003", False),
        ("quinn@example.com", False),
    }
    assert record.moved["callcenter.contactpoint"] == 2
    assert record.moved["callcenter.contactpoint:deactivated_duplicates"] == 3
    assert len(record.snapshot["contact_points"]) == 5


def test_unique_rules_of_related_models_are_honoured(supervisor) -> None:
    # The generic mover finds rows that would break a unique rule including the customer key.
    survivor, merged = person("Rita Qin"), person("Rita Qin")
    PhoneFactory(customer=survivor, value="+8613300133000", is_active=False, is_primary=False)
    twin = PhoneFactory(customer=merged, value="+8613300133000", is_primary=False)
    PhoneFactory(customer=merged, value="+8613300133001", is_primary=False)
    fk = ContactPoint._meta.get_field("customer")

    conflicts = _unique_conflicts(fk, survivor.pk)

    rows = ContactPoint.objects.filter(customer=merged)
    blocked = {pk for c in conflicts for pk in rows.filter(c).values_list("pk", flat=True)}
    assert blocked == {twin.pk}


def test_merge_moves_rows_of_other_apps_and_respects_their_unique_rules(supervisor) -> None:
    # given: models other apps added later (one-to-one metrics, one open membership per segment)
    from segments.models import CustomerMetrics, SegmentMembership
    from tests.segments.factories import (
        CustomerMetricsFactory,
        SegmentFactory,
        SegmentMembershipFactory,
    )

    survivor, merged = person("Yuki 1"), person("Yuki 2")
    shared, own = SegmentFactory(), SegmentFactory()
    CustomerMetricsFactory(customer=survivor)
    CustomerMetricsFactory(customer=merged)
    SegmentMembershipFactory(segment=shared, customer=survivor)
    twin = SegmentMembershipFactory(segment=shared, customer=merged)
    SegmentMembershipFactory(segment=own, customer=merged)
    closed = SegmentMembershipFactory(
        segment=shared, customer=merged, exited_at=timezone.now() - dt.timedelta(hours=1)
    )
    # when
    record = customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)
    # then: what can move moved; what would break a unique rule stays on the merged record
    assert CustomerMetrics.objects.filter(customer=merged).count() == 1
    assert CustomerMetrics.objects.filter(customer=survivor).count() == 1
    assert list(SegmentMembership.objects.filter(customer=merged)) == [twin]
    closed.refresh_from_db()
    assert closed.customer_id == survivor.pk
    assert SegmentMembership.objects.filter(customer=survivor).count() == 3
    assert record.moved["segments.segmentmembership"] == 2
    assert record.moved["segments.segmentmembership:kept_on_merged"] == 1
    assert record.moved["segments.customermetrics:kept_on_merged"] == 1


def test_merge_moves_one_to_one_rows_the_survivor_lacks(supervisor) -> None:
    from segments.models import CustomerMetrics
    from tests.segments.factories import CustomerMetricsFactory

    survivor, merged = person("Zoe 1"), person("Zoe 2")
    CustomerMetricsFactory(customer=merged)

    record = customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)

    assert CustomerMetrics.objects.get().customer_id == survivor.pk
    assert record.moved["segments.customermetrics"] == 1


def test_merge_refuses_a_customer_into_itself(supervisor) -> None:
    customer = person("Sam Tao")
    with pytest.raises(ApplicationError, match="itself"):
        customer_merge(survivor=customer, merged=customer, merged_by=supervisor)


def test_merge_refuses_merged_customers(pair: tuple[Customer, Customer], supervisor) -> None:
    survivor, merged = pair
    customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)
    third = person("Tom Pan")

    with pytest.raises(ApplicationError, match="already merged"):
        customer_merge(survivor=third, merged=merged, merged_by=supervisor)
    with pytest.raises(ApplicationError, match="merge into that customer"):
        customer_merge(survivor=merged, merged=third, merged_by=supervisor)
    assert CustomerMerge.objects.count() == 1
    third.refresh_from_db()
    assert third.status == CustomerStatus.ACTIVE


def test_merge_needs_a_user(pair: tuple[Customer, Customer]) -> None:
    from django.contrib.auth.models import AnonymousUser

    survivor, merged = pair
    with pytest.raises(ApplicationError, match="signed-in"):
        customer_merge(survivor=survivor, merged=merged, merged_by=AnonymousUser())
    merged.refresh_from_db()
    assert merged.status == CustomerStatus.ACTIVE


def test_merging_settles_the_proposals_of_the_merged_customer(supervisor) -> None:
    # given: A~B (to merge, B into A), B~C (C has no proposal with A), B~D and A~D
    a, b, c, d = (person(f"Uma {i}") for i in "ABCD")

    def propose(x: Customer, y: Customer, status: str = MergeProposalStatus.OPEN) -> MergeProposal:
        low, high = sorted((x.pk, y.pk))
        return MergeProposal.objects.create(
            customer_a_id=low, customer_b_id=high, score=0.8, reasons=[], status=status
        )

    ab, bc, bd, ad = propose(a, b), propose(b, c), propose(b, d), propose(a, d)
    # when
    merge_proposal_accept(proposal=ab, survivor_id=a.pk, user=supervisor)
    # then
    for proposal in (ab, bc, bd, ad):
        proposal.refresh_from_db()
    assert ab.status == MergeProposalStatus.MERGED
    assert ab.decided_by_id == supervisor.pk
    assert (bc.status, {bc.customer_a_id, bc.customer_b_id}) == ("open", {a.pk, c.pk})
    assert bd.status == MergeProposalStatus.DISMISSED
    assert ad.status == MergeProposalStatus.OPEN
    assert CustomerMerge.objects.get().proposal_id == ab.pk


def test_accepting_a_proposal_needs_one_of_its_customers(supervisor) -> None:
    a, b, c = person("Vic 1"), person("Vic 2"), person("Vic 3")
    proposal = MergeProposal.objects.create(customer_a=a, customer_b=b, score=0.9, reasons=[])

    with pytest.raises(ApplicationError, match="one of the two"):
        merge_proposal_accept(proposal=proposal, survivor_id=c.pk, user=supervisor)
    assert CustomerMerge.objects.count() == 0


def test_a_decided_proposal_cannot_be_merged_or_reopened(supervisor) -> None:
    a, b = person("Wen 1"), person("Wen 2")
    proposal = MergeProposal.objects.create(customer_a=a, customer_b=b, score=0.9, reasons=[])

    merge_proposal_dismiss(proposal=proposal, user=supervisor)
    merge_proposal_dismiss(proposal=proposal, user=supervisor)

    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.DISMISSED
    assert AuditLog.objects.filter(action="merge_proposal.dismiss").count() == 1
    with pytest.raises(ApplicationError, match="already decided"):
        merge_proposal_accept(proposal=proposal, survivor_id=a.pk, user=supervisor)


# --- API ------------------------------------------------------------------------------------


@pytest.fixture
def open_proposal() -> MergeProposal:
    a, b = person("Xia 1", "上海"), person("Xia 2", "上海")
    PhoneFactory(customer=a, value="+8613200132000")
    EmailFactory(customer=b, value="xia@example.com")
    OrderFactory(customer=b)
    return MergeProposal.objects.create(
        customer_a=a, customer_b=b, score=0.8, reasons=[{"kind": "email", "value": "x"}]
    )


LIST_URL = reverse("api-merge-proposal-list")


@pytest.mark.parametrize(
    ("role_user", "expected"),
    [(None, (401, 403)), (Role.AGENT, (403,)), (Role.SUPERVISOR, (200,)), (Role.ADMIN, (200,))],
    indirect=["role_user"],
)
def test_proposal_list_is_for_supervisors_and_admins(
    api_as, role_user, expected, open_proposal
) -> None:
    response = api_as(role_user).get(LIST_URL)
    assert response.status_code in expected


def test_proposal_list_shows_both_customers_in_few_queries(
    api_as, supervisor, open_proposal, django_assert_max_num_queries
) -> None:
    # given: more proposals with contact points
    for index in range(5):
        a, b = person(f"Yan {index}a"), person(f"Yan {index}b")
        PhoneFactory(customer=a)
        EmailFactory(customer=b)
        MergeProposal.objects.create(customer_a=a, customer_b=b, score=0.5, reasons=[])
    client = api_as(supervisor)
    # when
    with django_assert_max_num_queries(8):
        response = client.get(LIST_URL, {"status": "open"})
    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 6
    first = results[0]
    assert first["id"] == open_proposal.pk
    assert first["customer_a"]["name"] == "Xia 1"
    assert first["customer_a"]["contact_points"][0]["value"] == "+8613200132000"
    assert first["customer_b"]["contact_points"][0]["value"] == "xia@example.com"


def test_proposal_list_filters_by_status(api_as, supervisor, open_proposal) -> None:
    merge_proposal_dismiss(proposal=open_proposal, user=supervisor)
    client = api_as(supervisor)

    assert client.get(LIST_URL, {"status": "open"}).json()["results"] == []
    dismissed = client.get(LIST_URL, {"status": "dismissed"}).json()["results"]
    assert [p["id"] for p in dismissed] == [open_proposal.pk]
    mine = client.get(LIST_URL, {"customer": open_proposal.customer_b_id}).json()["results"]
    assert [p["id"] for p in mine] == [open_proposal.pk]
    assert client.get(LIST_URL, {"customer": 10**9}).json()["results"] == []
    refused = client.get(LIST_URL, {"status": "nonsense"})
    assert refused.status_code == 400
    assert "status" in refused.json()


@pytest.mark.parametrize(
    ("role_user", "expected"),
    [(None, (401, 403)), (Role.AGENT, (403,)), (Role.SUPERVISOR, (200,)), (Role.ADMIN, (200,))],
    indirect=["role_user"],
)
def test_merging_a_proposal_over_the_api(api_as, role_user, expected, open_proposal) -> None:
    url = reverse("api-merge-proposal-merge", args=[open_proposal.pk])

    response = api_as(role_user).post(
        url, {"survivor_id": open_proposal.customer_a_id}, format="json"
    )

    assert response.status_code in expected
    merged = Customer.objects.get(pk=open_proposal.customer_b_id)
    if response.status_code == 200:
        assert response.json()["moved"]["callcenter.order"] == 1
        assert merged.merged_into_id == open_proposal.customer_a_id
    else:
        assert merged.status == CustomerStatus.ACTIVE


def test_merging_a_proposal_with_a_stranger_as_survivor_is_a_400(
    api_as, supervisor, open_proposal
) -> None:
    url = reverse("api-merge-proposal-merge", args=[open_proposal.pk])
    stranger = person("Zed")

    response = api_as(supervisor).post(url, {"survivor_id": stranger.pk}, format="json")

    assert response.status_code == 400
    assert "one of the two" in response.json()["detail"]
    assert CustomerMerge.objects.count() == 0


@pytest.mark.parametrize(
    ("role_user", "expected"),
    [(None, (401, 403)), (Role.AGENT, (403,)), (Role.SUPERVISOR, (200,)), (Role.ADMIN, (200,))],
    indirect=["role_user"],
)
def test_dismissing_a_proposal_over_the_api(api_as, role_user, expected, open_proposal) -> None:
    url = reverse("api-merge-proposal-dismiss", args=[open_proposal.pk])

    response = api_as(role_user).post(url)

    assert response.status_code in expected
    open_proposal.refresh_from_db()
    dismissed = open_proposal.status == MergeProposalStatus.DISMISSED
    assert dismissed is (response.status_code == 200)


@pytest.mark.parametrize(
    ("role_user", "expected"),
    [(None, (401, 403)), (Role.AGENT, (403,)), (Role.SUPERVISOR, (200,)), (Role.ADMIN, (200,))],
    indirect=["role_user"],
)
def test_merging_a_customer_over_the_api(api_as, role_user, expected) -> None:
    survivor, merged = person("Amy 1"), person("Amy 2")
    OrderFactory(customer=merged)
    url = reverse("api-customer-merge", args=[survivor.pk])

    response = api_as(role_user).post(url, {"merged_id": merged.pk}, format="json")

    assert response.status_code in expected
    merged.refresh_from_db()
    assert (merged.merged_into_id == survivor.pk) is (response.status_code == 200)


def test_customer_merge_api_refuses_bad_requests(api_as, supervisor) -> None:
    survivor, merged = person("Ben 1"), person("Ben 2")
    client = api_as(supervisor)
    url = reverse("api-customer-merge", args=[survivor.pk])

    assert client.post(url, {"merged_id": survivor.pk}, format="json").status_code == 400
    assert client.post(url, {}, format="json").status_code == 400
    assert client.post(url, {"merged_id": 10**9}, format="json").status_code == 404
    missing = reverse("api-customer-merge", args=[10**9])
    assert client.post(missing, {"merged_id": merged.pk}, format="json").status_code == 404
    assert client.post(url, {"merged_id": merged.pk}, format="json").status_code == 200
    again = client.post(url, {"merged_id": merged.pk}, format="json")
    assert again.status_code == 400
    assert "already merged" in again.json()["detail"]
