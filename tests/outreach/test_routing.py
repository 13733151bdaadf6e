"""Routing by skill and load: rules, new tickets to the least-loaded skilled agent with room,
waiting tickets handed out, supervisors' override, skills preferred for call tasks."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from callcenter.choices import (
    CustomerKind,
    Language,
    Role,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.models import AgentProfile, AuditLog, Ticket
from callcenter.services.activity import ticket_open, ticket_resolve
from callcenter.services.ticket_changes import TicketChange, ticket_listeners
from care.choices import AssigneeRule, StepChannel
from outreach.access import TaskAccessDenied
from outreach.models import RoutingRule, TicketRoute
from outreach.services.routing import (
    agent_routing_set,
    ticket_route_override,
    tickets_assign_waiting,
)
from outreach.services.routing_rules import (
    CustomerFacts,
    call_skills,
    derived_skills,
    route_choose,
    skills_clean,
)
from outreach.services.sla import sla_sweep
from outreach.services.tasks import TaskSpec, outreach_tasks_create
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    TicketFactory,
    UserFactory,
)
from tests.outreach.factories import QueueFactory
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _agent(username: str, *, skills: list[str] | None = None, **profile: Any) -> Any:
    user = UserFactory(username=username, role=Role.AGENT)
    AgentProfile.objects.create(user=user, skills=skills or [], **profile)
    return user


def _open(customer: Any, **fields: Any) -> Ticket:
    return ticket_open(
        customer=customer,
        kind=fields.pop("kind", TicketKind.COMPLAINT),
        subject=fields.pop("subject", "Broken router"),
        **fields,
    )


FACTS = CustomerFacts(kind=CustomerKind.PERSON, industry="", language="en", tier="low")


class TestRules:
    def test_first_matching_active_rule_wins(self) -> None:
        queue_a, queue_b = QueueFactory(slug="a"), QueueFactory(slug="b")
        RoutingRule.objects.create(name="inactive", position=0, is_active=False, queue=queue_a)
        english = RoutingRule.objects.create(
            name="english", position=1, languages=[Language.EN], queue=queue_a
        )
        RoutingRule.objects.create(name="any", position=2, queue=queue_b)
        rules = list(RoutingRule.objects.filter(is_active=True).order_by("position"))

        rule, skills = route_choose(rules, FACTS, TicketKind.INQUIRY)
        assert rule == english
        assert skills == ["en"]  # derived: the customer's language
        chinese = CustomerFacts(kind="person", industry="", language="zh-hans", tier="low")
        assert route_choose(rules, chinese, TicketKind.INQUIRY)[0].name == "any"

    def test_each_condition_must_accept(self) -> None:
        queue = QueueFactory(slug="vip")
        RoutingRule.objects.create(
            name="vip complaints",
            ticket_kinds=[TicketKind.COMPLAINT],
            value_tiers=["high"],
            queue=queue,
            required_skills=["product:broadband"],
            derive_skills=False,
        )
        rules = list(RoutingRule.objects.all())
        high = CustomerFacts(kind="person", industry="", language="en", tier="high")
        assert route_choose(rules, high, TicketKind.COMPLAINT)[1] == ["product:broadband"]
        assert route_choose(rules, high, TicketKind.INQUIRY) == (None, [])
        assert route_choose(rules, FACTS, TicketKind.COMPLAINT) == (None, [])
        # call tasks have no ticket kind: a rule with ticket kinds is for tickets only
        assert route_choose(rules, high, None) == (None, [])

    def test_industry_condition_ignores_case_and_spacing(self) -> None:
        queue = QueueFactory(slug="retail")
        RoutingRule.objects.create(name="r", industries=["Retail Chains"], queue=queue)
        facts = CustomerFacts(kind="business", industry="retail chains", language="en", tier="")
        assert route_choose(list(RoutingRule.objects.all()), facts, None)[0] is not None

    def test_derived_skills_follow_the_to_b_practice(self) -> None:
        business = CustomerFacts(
            kind=CustomerKind.BUSINESS, industry="Retail", language="zh-hans", tier="high"
        )
        assert derived_skills(business) == {"zh-hans", "vip", "industry:retail"}
        person = CustomerFacts(kind="person", industry="Retail", language="en", tier="medium")
        assert derived_skills(person) == {"en"}
        chinese = CustomerFacts(kind="business", industry="零售 批发", language="", tier="")
        assert derived_skills(chinese) == {"industry:零售-批发"}


class TestSkills:
    def test_skills_are_lowercase_tokens_with_known_prefixes(self) -> None:
        assert skills_clean([" en", "vip", "industry:retail", "en", ""]) == [
            "en",
            "industry:retail",
            "vip",
        ]
        for bad in (["VIP"], ["two words"], ["colour:red"], ["industry:"], ["x" * 51]):
            with pytest.raises(ValidationError):
                skills_clean(bad)

    def test_supervisor_sets_an_agents_skills_but_not_an_admins(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        agent = UserFactory(username="ag", role=Role.AGENT)
        admin = UserFactory(username="adm", role=Role.ADMIN)
        assert agent_routing_set(
            user=agent, skills=["en", "vip"], ticket_capacity=3, changed_by=supervisor
        )
        profile = AgentProfile.objects.get(user=agent)
        assert (profile.skills, profile.ticket_capacity) == (["en", "vip"], 3)
        entry = AuditLog.objects.get(action="user.routing", object_id=str(agent.pk))
        assert entry.data["after"] == {"skills": ["en", "vip"], "ticket_capacity": 3}
        with pytest.raises(TaskAccessDenied):
            agent_routing_set(
                user=admin, skills=["en"], ticket_capacity=None, changed_by=supervisor
            )
        with pytest.raises(TaskAccessDenied):
            agent_routing_set(user=agent, skills=[], ticket_capacity=None, changed_by=agent)
        # nothing changed: no audit entry
        assert not agent_routing_set(
            user=agent, skills=["vip", "en"], ticket_capacity=3, changed_by=supervisor
        )
        assert AuditLog.objects.filter(action="user.routing").count() == 1


class TestTicketRouting:
    def test_new_ticket_goes_to_the_least_loaded_skilled_agent_with_room(self) -> None:
        # given an industry specialist queue for business customers with an industry
        full = _agent("full", skills=["zh-hans", "industry:retail"], ticket_capacity=1)
        busy = _agent("busy", skills=["zh-hans", "industry:retail"])
        free = _agent("free", skills=["zh-hans", "industry:retail"])
        unskilled = _agent("unskilled", skills=["zh-hans"])
        away = _agent("away", skills=["zh-hans", "industry:retail"], is_available=False)
        queue = QueueFactory(slug="to-b", members=[full, busy, free, unskilled, away])
        rule = RoutingRule.objects.create(
            name="To B specialists", customer_kinds=[CustomerKind.BUSINESS], queue=queue
        )
        TicketFactory(assignee=full)
        TicketFactory(assignee=busy)
        TicketFactory(assignee=free, status=TicketStatus.RESOLVED)  # no load
        customer = BusinessCustomerFactory(industry="Retail", language=Language.ZH_HANS)

        # when the business customer's ticket is opened
        ticket = _open(customer)

        # then it is routed by the rule and given to the free specialist
        ticket.refresh_from_db()
        assert ticket.assignee == free
        route = TicketRoute.objects.get(ticket=ticket)
        assert (route.queue, route.rule, route.assigned_at) == (queue, rule, NOW)
        assert route.required_skills == ["industry:retail", "zh-hans"]
        # the next one goes to the less loaded of the two with room (busy: 1, free: 1 -> id)
        second = _open(customer)
        second.refresh_from_db()
        assert second.assignee == min((busy, free), key=lambda user: user.pk)

    def test_no_rule_routes_to_the_general_queue_without_skills(self) -> None:
        agent = _agent("g")
        QueueFactory(slug="general", members=[agent])
        ticket = _open(CustomerFactory())
        route = TicketRoute.objects.get(ticket=ticket)
        assert (route.queue.slug, route.rule, route.required_skills) == ("general", None, [])
        assert Ticket.objects.get(pk=ticket.pk).assignee == agent

    def test_a_ticket_opened_with_an_assignee_keeps_it(self) -> None:
        owner, other = _agent("owner"), _agent("other")
        QueueFactory(slug="general", members=[other])
        ticket = _open(CustomerFactory(), assignee=owner)
        assert Ticket.objects.get(pk=ticket.pk).assignee == owner
        assert TicketRoute.objects.get(ticket=ticket).assigned_at == NOW

    def test_assignment_is_announced(self) -> None:
        agent = _agent("a")
        QueueFactory(slug="general", members=[agent])
        heard: list[TicketChange] = []
        ticket_listeners.register("test-recorder", heard.append)
        try:
            ticket = _open(CustomerFactory())
        finally:
            ticket_listeners.unregister("test-recorder")
        assert [(change.kind, change.ticket.pk) for change in heard] == [
            ("opened", ticket.pk),
            ("assigned", ticket.pk),
        ]
        assert heard[1].ticket.assignee_id == agent.pk

    def test_nobody_with_room_waits_then_is_handed_out_most_urgent_first(self) -> None:
        # given one agent with room for one ticket, busy
        agent = _agent("a", skills=["en"], ticket_capacity=1)
        queue = QueueFactory(slug="english", members=[agent])
        RoutingRule.objects.create(name="English", languages=[Language.EN], queue=queue)
        customer = CustomerFactory(language=Language.EN)
        first = _open(customer)
        normal = _open(customer, priority=TicketPriority.NORMAL)
        urgent = _open(customer, priority=TicketPriority.URGENT)
        assert Ticket.objects.get(pk=first.pk).assignee == agent
        assert Ticket.objects.filter(pk__in=[normal.pk, urgent.pk], assignee=None).count() == 2
        assert tickets_assign_waiting() == {"routed": 0, "assigned": 0}

        # when the first is resolved and the sweep runs
        ticket_resolve(ticket=Ticket.objects.get(pk=first.pk))
        counts = sla_sweep()

        # then the urgent one is handed out (not the older normal one), once
        assert counts["tickets_assigned"] == 1
        assert Ticket.objects.get(pk=urgent.pk).assignee == agent
        assert Ticket.objects.get(pk=normal.pk).assignee is None
        assert tickets_assign_waiting()["assigned"] == 0

    def test_tickets_written_set_based_are_routed_by_the_pass(self) -> None:
        agent = _agent("a")
        QueueFactory(slug="general", members=[agent])
        imported = TicketFactory()  # no ticket_open, no listener
        assert tickets_assign_waiting() == {"routed": 1, "assigned": 1}
        assert Ticket.objects.get(pk=imported.pk).assignee == agent
        assert tickets_assign_waiting() == {"routed": 0, "assigned": 0}


class TestOverride:
    def test_supervisor_moves_a_ticket_to_any_agent_audited(self) -> None:
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        full = _agent("full", ticket_capacity=0)
        QueueFactory(slug="general")
        other = QueueFactory(slug="other")
        ticket = _open(CustomerFactory())
        assert Ticket.objects.get(pk=ticket.pk).assignee is None

        route = ticket_route_override(
            ticket=ticket, by=supervisor, queue=other, assignee=full, reason="knows them"
        )

        assert route.queue == other
        assert Ticket.objects.get(pk=ticket.pk).assignee == full
        entry = AuditLog.objects.get(action="ticket.route", object_id=str(ticket.pk))
        assert entry.data["after"] == {"queue": other.pk, "assignee": full.pk}
        assert entry.data["reason"] == "knows them"

    def test_agents_may_not_override_and_bad_input_changes_nothing(self) -> None:
        agent = _agent("a")
        supervisor = UserFactory(username="sup", role=Role.SUPERVISOR)
        ticket = _open(CustomerFactory())
        with pytest.raises(TaskAccessDenied):
            ticket_route_override(ticket=ticket, by=agent, assignee=agent)
        with pytest.raises(ValidationError):
            ticket_route_override(ticket=ticket, by=supervisor)
        norole = UserFactory(username="norole")
        with pytest.raises(ValidationError):
            ticket_route_override(ticket=ticket, by=supervisor, assignee=norole)
        assert Ticket.objects.get(pk=ticket.pk).assignee is None
        assert not AuditLog.objects.filter(action="ticket.route").exists()


class TestCallTaskSkills:
    def _spec(self, customer: Any, key: str) -> TaskSpec:
        return TaskSpec(
            customer_id=customer.pk,
            channel=StepChannel.CALL,
            due_at=NOW,
            deadline_at=NOW + dt.timedelta(hours=4),
            idempotency_key=key,
            assignee_rule=AssigneeRule.LEAST_LOADED,
            assignee_target="general",
        )

    def test_the_customers_language_is_preferred_then_least_loaded(self) -> None:
        chinese = _agent("a-chinese", skills=["zh-hans"])
        english = _agent("b-english", skills=["en"])
        QueueFactory(slug="general", members=[chinese, english])
        tasks = outreach_tasks_create(
            specs=[
                self._spec(CustomerFactory(language=Language.EN), "en1"),
                self._spec(CustomerFactory(language=Language.EN), "en2"),
                self._spec(CustomerFactory(language=Language.ZH_HANS), "zh1"),
            ]
        )
        # the English speaker takes both English calls though more loaded after the first
        assert [task.assignee_id for task in tasks] == [english.pk, english.pk, chinese.pk]

    def test_rule_skills_are_preferred_and_nobody_skilled_falls_back(self) -> None:
        queue = QueueFactory(slug="vip")
        RoutingRule.objects.create(
            name="VIP", value_tiers=["high"], queue=queue, derive_skills=True
        )
        plain = _agent("a-plain", skills=["zh-hans"])
        vip = _agent("b-vip", skills=["zh-hans", "vip"])
        QueueFactory(slug="general", members=[plain, vip])
        rich = CustomerFactory()
        CustomerMetricsFactory(customer=rich, value_tier="high")
        assert call_skills([rich.pk]) == {rich.pk: frozenset({"zh-hans", "vip"})}
        (task,) = outreach_tasks_create(specs=[self._spec(rich, "rich")])
        assert task.assignee_id == vip.pk
        # an English customer: nobody speaks English, so plain least loaded (lowest id)
        (other,) = outreach_tasks_create(
            specs=[self._spec(CustomerFactory(language=Language.EN), "en")]
        )
        assert other.assignee_id == plain.pk


class TestPlaybook:
    def test_playbook_installs_the_to_b_queue_and_default_rules_once(self) -> None:
        from care.playbook import playbook_install

        specialist = _agent("specialist", skills=["zh-hans", "industry:retail"])
        _agent("generalist", skills=["en"])
        counts = playbook_install()
        assert counts["routing_rules_created"] == 3
        to_b = RoutingRule.objects.order_by("position").first()
        assert (to_b.queue.slug, to_b.customer_kinds) == ("to-b", ["business"])
        assert list(to_b.queue.members.all()) == [specialist]
        # a business customer's ticket goes to the specialist
        ticket = _open(BusinessCustomerFactory(industry="Retail"))
        assert Ticket.objects.get(pk=ticket.pk).assignee == specialist
        assert playbook_install()["routing_rules_created"] == 0
