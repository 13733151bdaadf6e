"""Routing in the browser and over the API, by role: the rules editor (admins), the routed
tickets page with the override (supervisors), skills on the user form and list, and the
routing-rule, agent and ticket-route APIs."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callcenter.choices import Role, TicketKind
from callcenter.models import AgentProfile, AuditLog, Ticket
from callcenter.services.activity import ticket_open
from outreach.models import RoutingRule, TicketRoute
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import QueueFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db: None) -> Any:
    return UserFactory(username="boss", role=Role.ADMIN)


@pytest.fixture
def supervisor(db: None) -> Any:
    return UserFactory(username="lead", role=Role.SUPERVISOR)


@pytest.fixture
def agent(db: None) -> Any:
    return UserFactory(username="li", role=Role.AGENT)


def _as(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


RULE_POST = {
    "name": "To B retail",
    "position": "5",
    "is_active": "on",
    "customer_kinds": ["business"],
    "industries": "Retail, Wholesale",
    "required_skills": "product:broadband",
    "derive_skills": "on",
}


class TestEditorPages:
    def test_admin_creates_edits_and_deletes_a_rule(self, client: Client, admin: Any) -> None:
        queue = QueueFactory(slug="to-b", name="To B")
        client = _as(client, admin)
        response = client.post(reverse("routing-rule-create"), {**RULE_POST, "queue": queue.pk})
        assert response.status_code == 302
        rule = RoutingRule.objects.get()
        assert (rule.industries, rule.customer_kinds) == (["Retail", "Wholesale"], ["business"])
        assert rule.required_skills == ["product:broadband"]
        page = client.get(reverse("routing-rules")).content.decode()
        assert "To B retail" in page
        assert "product:broadband" in page

        edit = client.post(
            reverse("routing-rule-edit", args=[rule.pk]),
            {**RULE_POST, "name": "Retail", "queue": queue.pk, "is_active": ""},
        )
        assert edit.status_code == 302
        rule.refresh_from_db()
        assert (rule.name, rule.is_active) == ("Retail", False)

        client.post(reverse("routing-rule-delete", args=[rule.pk]))
        assert not RoutingRule.objects.exists()
        actions = list(
            AuditLog.objects.filter(object_type="routing_rule").values_list("action", flat=True)
        )
        assert sorted(actions) == [
            "routing_rule.create",
            "routing_rule.delete",
            "routing_rule.update",
        ]

    def test_bad_skills_show_an_error_and_save_nothing(self, client: Client, admin: Any) -> None:
        queue = QueueFactory(slug="q")
        response = _as(client, admin).post(
            reverse("routing-rule-create"),
            {**RULE_POST, "queue": queue.pk, "required_skills": "Big Spender"},
        )
        assert response.status_code == 400
        assert "Not a skill" in response.content.decode()
        assert not RoutingRule.objects.exists()

    def test_supervisors_and_agents_may_not_edit(
        self, client: Client, supervisor: Any, agent: Any
    ) -> None:
        queue = QueueFactory(slug="q")
        for user in (supervisor, agent):
            client = _as(Client(), user)
            assert client.get(reverse("routing-rules")).status_code == 403
            post = client.post(reverse("routing-rule-create"), {**RULE_POST, "queue": queue.pk})
            assert post.status_code == 403
        assert not RoutingRule.objects.exists()

    def test_rule_list_query_count_is_fixed(self, client: Client, admin: Any) -> None:
        client = _as(client, admin)
        RoutingRule.objects.create(name="r0", queue=QueueFactory(slug="q0"))
        client.get(reverse("routing-rules"))
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("routing-rules"))
        for n in range(1, 6):
            RoutingRule.objects.create(name=f"r{n}", queue=QueueFactory(slug=f"q{n}"))
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("routing-rules"))
        assert len(few) == len(many)

    def test_rule_list_says_conditions_and_default_names_in_the_reader_language(
        self, client: Client, admin: Any
    ) -> None:
        queue = QueueFactory(slug="senior", name="Senior agents")
        RoutingRule.objects.create(
            name="High value: senior agents",
            queue=queue,
            customer_kinds=["business"],
            value_tiers=["high"],
            languages=["en"],
            industries=["Retail"],
        )
        client = _as(client, admin)

        english = client.get(reverse("routing-rules")).content.decode()
        chinese = client.get(reverse("routing-rules"), HTTP_ACCEPT_LANGUAGE="zh-hans")
        html = chinese.content.decode()

        assert "High value: senior agents" in english
        assert "Value tiers: High value" in english
        assert "高价值：资深坐席" in html
        assert "资深坐席" in html
        assert "价值等级：高价值" in html
        assert "客户语言：英语" in html
        assert "Retail" in html  # typed by an admin: as typed


class TestRoutedTickets:
    def test_supervisor_sees_waiting_tickets_and_moves_one(
        self, client: Client, supervisor: Any, agent: Any
    ) -> None:
        QueueFactory(slug="general")  # nobody in it: tickets wait
        other = QueueFactory(slug="other", name="Other")
        ticket = ticket_open(customer=CustomerFactory(), kind=TicketKind.INQUIRY, subject="Bill?")
        client = _as(client, supervisor)
        page = client.get(reverse("routed-tickets")).content.decode()
        assert "Bill?" in page

        response = client.post(
            reverse("ticket-route", args=[ticket.pk]),
            {"queue": other.pk, "assignee": agent.pk, "reason": "billing"},
        )

        assert response.status_code == 302
        assert Ticket.objects.get(pk=ticket.pk).assignee == agent
        assert TicketRoute.objects.get(ticket=ticket).queue == other
        assert AuditLog.objects.filter(action="ticket.route", object_id=str(ticket.pk)).exists()
        assert "Bill?" not in client.get(reverse("routed-tickets")).content.decode()

    def test_an_empty_move_is_refused(self, client: Client, supervisor: Any) -> None:
        QueueFactory(slug="general")
        ticket = ticket_open(customer=CustomerFactory(), kind=TicketKind.INQUIRY, subject="Hi")
        response = _as(client, supervisor).post(reverse("ticket-route", args=[ticket.pk]), {})
        assert response.status_code == 400
        assert not AuditLog.objects.filter(action="ticket.route").exists()

    def test_query_count_is_fixed(self, client: Client, supervisor: Any) -> None:
        QueueFactory(slug="general")
        client = _as(client, supervisor)
        ticket_open(customer=CustomerFactory(), kind=TicketKind.INQUIRY, subject="t0")
        client.get(reverse("routed-tickets"))
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("routed-tickets"))
        for n in range(5):
            ticket_open(customer=CustomerFactory(), kind=TicketKind.INQUIRY, subject=f"t{n}")
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("routed-tickets"))
        assert len(few) == len(many)


class TestUserForm:
    def test_admin_sets_skills_and_capacity_shown_on_the_list(
        self, client: Client, admin: Any, agent: Any
    ) -> None:
        client = _as(client, admin)
        response = client.post(
            reverse("manage-user", args=[agent.pk]),
            {
                "action": "profile",
                "first_name": "",
                "last_name": "",
                "email": "",
                "extension": "",
                "is_available": "on",
                "skills": "en, industry:retail vip",
                "ticket_capacity": "4",
            },
        )
        assert response.status_code == 302
        profile = AgentProfile.objects.get(user=agent)
        assert (profile.skills, profile.ticket_capacity) == (["en", "industry:retail", "vip"], 4)
        listing = client.get(reverse("manage-users")).content.decode()
        assert "industry:retail" in listing

    def test_bad_skills_are_refused_on_the_form(
        self, client: Client, admin: Any, agent: Any
    ) -> None:
        response = _as(client, admin).post(
            reverse("manage-user", args=[agent.pk]),
            {"action": "profile", "is_available": "on", "skills": "Colour:Red"},
        )
        assert response.status_code == 400
        assert "Not a skill" in response.content.decode()
        assert not AgentProfile.objects.filter(user=agent).exclude(skills=[]).exists()


class TestApi:
    def test_admin_manages_rules_supervisor_reads(
        self, api_as: Any, admin: Any, supervisor: Any
    ) -> None:
        QueueFactory(slug="vip")
        api = api_as(admin)
        created = api.post(
            "/api/outreach/routing-rules/",
            {"name": "VIP", "value_tiers": ["high"], "queue": "vip", "required_skills": ["vip"]},
            format="json",
        )
        assert created.status_code == 201, created.json()
        pk = created.json()["id"]
        patched = api.patch(f"/api/outreach/routing-rules/{pk}/", {"position": 3}, format="json")
        assert patched.json()["position"] == 3
        assert patched.json()["value_tiers"] == ["high"]
        bad = api.patch(
            f"/api/outreach/routing-rules/{pk}/", {"required_skills": ["A B"]}, format="json"
        )
        assert bad.status_code == 400
        assert RoutingRule.objects.get(pk=pk).required_skills == ["vip"]

        reader = api_as(supervisor)
        assert [row["name"] for row in reader.get("/api/outreach/routing-rules/").json()] == ["VIP"]
        assert reader.delete(f"/api/outreach/routing-rules/{pk}/").status_code == 403
        assert api_as(admin).delete(f"/api/outreach/routing-rules/{pk}/").status_code == 204

    def test_supervisor_sets_agent_skills_and_reads_loads(
        self, api_as: Any, supervisor: Any, agent: Any, admin: Any
    ) -> None:
        api = api_as(supervisor)
        response = api.patch(
            f"/api/outreach/agents/{agent.pk}/",
            {"skills": ["en", "vip"], "ticket_capacity": 5},
            format="json",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["skills"] == ["en", "vip"]
        listed = {row["username"]: row for row in api.get("/api/outreach/agents/").json()}
        assert listed["li"]["ticket_capacity"] == 5
        assert listed["li"]["open_tickets"] == 0
        refused = api.patch(f"/api/outreach/agents/{admin.pk}/", {"skills": ["en"]}, format="json")
        assert refused.status_code == 403
        assert not AgentProfile.objects.filter(user=admin).exists()

    def test_supervisor_moves_a_ticket_over_the_api(
        self, api_as: Any, supervisor: Any, agent: Any
    ) -> None:
        QueueFactory(slug="general")
        ticket = ticket_open(customer=CustomerFactory(), kind=TicketKind.INQUIRY, subject="Hi")
        api = api_as(supervisor)
        assert api.get(f"/api/outreach/tickets/{ticket.pk}/route/").json()["assignee"] is None
        moved = api.post(
            f"/api/outreach/tickets/{ticket.pk}/route/", {"assignee": agent.pk}, format="json"
        )
        assert moved.status_code == 200, moved.json()
        assert moved.json()["assignee"] == agent.pk
        assert Ticket.objects.get(pk=ticket.pk).assignee == agent


class TestAgentSkillsPage:
    def test_supervisor_sets_an_agents_skills_not_an_admins(
        self, client: Client, supervisor: Any, agent: Any, admin: Any
    ) -> None:
        client = _as(client, supervisor)
        assert "li" in client.get(reverse("agent-skills")).content.decode()
        response = client.post(
            reverse("agent-skills-set", args=[agent.pk]),
            {"skills": "zh-hans, industry:retail", "ticket_capacity": "6"},
        )
        assert response.status_code == 302
        profile = AgentProfile.objects.get(user=agent)
        assert (profile.skills, profile.ticket_capacity) == (["industry:retail", "zh-hans"], 6)
        refused = client.post(reverse("agent-skills-set", args=[admin.pk]), {"skills": "en"})
        assert refused.status_code == 403
        bad = client.post(reverse("agent-skills-set", args=[agent.pk]), {"skills": "VIP"})
        assert bad.status_code == 400
        assert "Not a skill" in bad.content.decode()
        assert AgentProfile.objects.get(user=agent).skills == ["industry:retail", "zh-hans"]
        assert not AgentProfile.objects.filter(user=admin).exists()

    def test_query_count_is_fixed(self, client: Client, supervisor: Any) -> None:
        client = _as(client, supervisor)
        client.get(reverse("agent-skills"))
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("agent-skills"))
        for n in range(5):
            user = UserFactory(username=f"agent{n}", role=Role.AGENT)
            AgentProfile.objects.create(user=user, skills=["en"], ticket_capacity=n)
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("agent-skills"))
        assert len(few) == len(many)
