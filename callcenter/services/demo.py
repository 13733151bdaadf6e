"""Demo data: realistic customers and 18 months of history, generated in bulk.

People and businesses with Chinese and English names, several phones and emails, orders in
different rhythms (loyal, occasional, gone quiet, lost, new), calls and chats with notes whose
sentiment is computed by the shipped models, complaints and other tickets, NPS and CSAT answers.
"""

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import connection, models, transaction
from django.utils import timezone
from psycopg import sql

from callcenter.choices import (
    AccountRole,
    ContactKind,
    CustomerKind,
    Direction,
    InteractionChannel,
    Language,
    OrderStatus,
    Role,
    SurveyKind,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.models import (
    AgentProfile,
    ContactPoint,
    Customer,
    Interaction,
    Order,
    SurveyResponse,
    Ticket,
)
from callcenter.sentiment import sentiment_score

# Rows per bulk INSERT: a few thousand rows keep each statement well under a few MB.
BATCH_SIZE = 2000
# Every demo customer's external id starts with it (the demo refuses databases with others).
DEMO_ID_PREFIX = "DEMO"
HISTORY_DAYS = 548  # about 18 months

DEMO_USERS = (
    ("admin", Role.ADMIN, "Ada", "Admin"),
    ("supervisor", Role.SUPERVISOR, "Sam", "Supervisor"),
    ("agent1", Role.AGENT, "李", "娜"),
    ("agent2", Role.AGENT, "Tom", "Agent"),
)
# Routing skills of the demo staff (outreach's routing rules and the playbook's To B queue).
DEMO_SKILLS = {
    "supervisor": ["en", "zh-hans", "vip"],
    "agent1": ["zh-hans", "vip", "industry:retail", "industry:logistics"],
    "agent2": ["en", "zh-hans", "product:broadband"],
}
# The demo staff's teams (scorecards compare an agent with their team).
DEMO_TEAMS = {"supervisor": "Key accounts", "agent1": "Key accounts", "agent2": "Consumer care"}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "华",
    "红",
    "建国",
]
EN_FIRST = [
    "James",
    "Mary",
    "John",
    "Linda",
    "David",
    "Susan",
    "Michael",
    "Karen",
    "Emma",
    "Oliver",
    "Sophia",
    "Daniel",
    "Grace",
    "Henry",
    "Lucy",
    "Peter",
]
EN_LAST = [
    "Smith",
    "Brown",
    "Wilson",
    "Taylor",
    "Clark",
    "Walker",
    "Wright",
    "Green",
    "Hall",
    "Young",
    "King",
    "Scott",
]
COMPANY_PREFIX = ["华东", "联合", "星辰", "恒信", "远航", "金桥", "创新", "东方", "北辰", "瑞丰"]
COMPANY_SUFFIX = [
    "科技有限公司",
    "贸易有限公司",
    "餐饮管理有限公司",
    "物流有限公司",
    "医疗器械有限公司",
]
INDUSTRIES = ["Retail", "Logistics", "Healthcare", "Hospitality", "Manufacturing", "Education"]
CITIES = [
    ("上海", "上海"),
    ("北京", "北京"),
    ("广州", "广东"),
    ("深圳", "广东"),
    ("杭州", "浙江"),
    ("成都", "四川"),
    ("武汉", "湖北"),
    ("南京", "江苏"),
    ("西安", "陕西"),
    ("重庆", "重庆"),
]
CATEGORIES = ["electronics", "home", "beauty", "grocery", "apparel", "services"]
# Products of each category (picked by the order's number, so the random draws of a seed, and
# with them the demo data, stay as they were before orders had products).
PRODUCTS = {
    "electronics": ["无线耳机", "智能手表", "充电宝"],
    "home": ["空气净化器", "乳胶枕", "不粘锅"],
    "beauty": ["保湿面霜", "防晒乳", "精华液"],
    "grocery": ["龙井茶", "有机大米", "坚果礼盒"],
    "apparel": ["羊毛衫", "运动鞋", "羽绒服"],
    "services": ["延保服务", "上门安装", "会员年卡"],
}
ORDER_CHANNELS = ["web", "app", "store", "phone", "wechat"]
CALL_REASONS = ["billing", "delivery", "product question", "return", "account", "complaint"]
NOTES = [
    ("客户询问订单配送时间，已告知预计明天送达，客户表示满意。", "resolved"),
    ("客户对退款进度非常不满，情绪激动，要求尽快处理。", "escalated"),
    ("产品使用咨询，已发送说明书，客户表示感谢。", "resolved"),
    ("快递太慢了，第三次打电话了，服务太差，要投诉。", "complaint logged"),
    ("会员积分查询，客户很开心，顺便推荐了新品。", "resolved"),
    ("Customer asked about invoice copy, sent by email. Friendly call.", "resolved"),
    ("Customer is very angry: the device broke after two days, wants a refund now.", "escalated"),
    ("Great feedback about the new delivery option, thanks the team.", "resolved"),
    ("Asked to change the delivery address, done.", "resolved"),
    ("", "no answer"),
]
TICKET_SUBJECTS = {
    TicketKind.COMPLAINT: [
        "配送延迟",
        "商品破损",
        "退款未到账",
        "Rude service on the phone",
        "Wrong item delivered",
    ],
    TicketKind.INQUIRY: ["发票开具", "会员权益咨询", "How to reset my password", "保修政策"],
    TicketKind.SUGGESTION: ["希望增加晚间配送", "App 界面建议", "More payment options"],
}
SURVEY_COMMENTS = ["很满意", "还可以", "物流太慢", "Great service", "Could be better", ""]


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    orders: int
    interactions: int
    tickets: int
    surveys: int


def demo_users_ensure(*, password: str | None = None) -> tuple[str, bool]:
    """Create (or reset) the demo users; returns the password and whether it was generated."""
    generated = password is None
    password = password or secrets.token_urlsafe(9)
    user_model = get_user_model()
    for username, role, first_name, last_name in DEMO_USERS:
        user, _created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@example.com",
            },
        )
        user.set_password(password)
        user.is_staff = role in (Role.ADMIN, Role.SUPERVISOR)
        user.is_superuser = role == Role.ADMIN
        user.save()
        user.groups.add(Group.objects.get(name=role))
        if username in DEMO_SKILLS:
            AgentProfile.objects.update_or_create(
                user=user,
                defaults={"skills": DEMO_SKILLS[username], "team": DEMO_TEAMS[username]},
            )
    return password, generated


def _person_name(rng: np.random.Generator) -> tuple[str, str]:
    if rng.random() < 0.8:
        name = SURNAMES[rng.integers(len(SURNAMES))] + GIVEN[rng.integers(len(GIVEN))]
        return name, Language.ZH_HANS
    return f"{EN_FIRST[rng.integers(len(EN_FIRST))]} {EN_LAST[rng.integers(len(EN_LAST))]}", (
        Language.EN
    )


def _mobile(rng: np.random.Generator, used: set[str]) -> str:
    prefixes = ("138", "139", "136", "137", "150", "151", "158", "186", "187", "188")
    while True:
        number = f"+86{prefixes[rng.integers(len(prefixes))]}{rng.integers(10**8):08d}"
        if number not in used:
            used.add(number)
            return number


def _order_days(rng: np.random.Generator, profile: str) -> list[int]:
    """Days ago of a customer's orders, by the rhythm of their profile."""
    if profile == "prospect":
        return []
    if profile == "new":
        return sorted(rng.integers(1, 30, size=rng.integers(1, 3)).tolist())
    if profile == "loyal":
        start = int(rng.integers(300, HISTORY_DAYS))
        count = int(rng.integers(8, 25))
        return sorted(rng.integers(1, start, size=count).tolist())
    if profile == "dormant":
        return sorted(rng.integers(65, 170, size=rng.integers(2, 6)).tolist())
    if profile == "lost":
        return sorted(rng.integers(190, HISTORY_DAYS, size=rng.integers(1, 5)).tolist())
    return sorted(rng.integers(1, HISTORY_DAYS, size=rng.integers(2, 8)).tolist())


def _bulk(model: type[models.Model], rows: list) -> None:
    for start in range(0, len(rows), BATCH_SIZE):
        model._default_manager.bulk_create(rows[start : start + BATCH_SIZE])


def _demo_customer(rng: np.random.Generator, external_id: str, advisors: list[User]) -> Customer:
    """One unsaved demo customer: a person, or (12%) a business with an industry and advisor."""
    is_business = rng.random() < 0.12
    name, language = _person_name(rng)
    city, region = CITIES[rng.integers(len(CITIES))]
    attributes = {"member_level": str(rng.choice(["bronze", "silver", "gold"]))}
    customer = Customer(
        external_id=external_id,
        kind=CustomerKind.BUSINESS if is_business else CustomerKind.PERSON,
        name=name,
        city=city,
        region=region,
        language=language,
        birthday=None
        if is_business or rng.random() < 0.2
        else dt.date(
            int(rng.integers(1955, 2004)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        ),
        sms_opt_out=bool(rng.random() < 0.05),
        call_opt_out=bool(rng.random() < 0.03),
        email_opt_out=bool(rng.random() < 0.08),
        attributes=attributes,
    )
    if is_business:
        customer.company_name = (
            f"{CITIES[rng.integers(len(CITIES))][0]}{COMPANY_PREFIX[rng.integers(10)]}"
            f"{COMPANY_SUFFIX[rng.integers(len(COMPANY_SUFFIX))]}"
        )
        customer.industry = INDUSTRIES[rng.integers(len(INDUSTRIES))]
        customer.employee_count = int(rng.integers(5, 2000))
        if advisors:
            customer.advisor = advisors[int(rng.integers(len(advisors)))]
    return customer


def _demo_contacts(
    rng: np.random.Generator, customer_id: int, used_phones: set[str]
) -> list[ContactPoint]:
    """One or two mobile numbers (never one already used), often an email, sometimes WeChat."""
    contacts = []
    for n in range(1 + int(rng.random() < 0.25)):
        phone = _mobile(rng, used_phones)
        contacts.append(
            ContactPoint(
                customer_id=customer_id,
                kind=ContactKind.PHONE,
                value=phone,
                raw_value=phone[3:],
                is_primary=n == 0,
                label="mobile",
            )
        )
    if rng.random() < 0.7:
        email = f"c{customer_id}@example.com"
        contacts.append(
            ContactPoint(
                customer_id=customer_id,
                kind=ContactKind.EMAIL,
                value=email,
                raw_value=email,
                is_primary=True,
            )
        )
    if rng.random() < 0.3:
        contacts.append(
            ContactPoint(
                customer_id=customer_id,
                kind=ContactKind.WECHAT,
                value=f"wx_{customer_id:07d}",
                is_primary=True,
            )
        )
    return contacts


def _demo_orders(
    rng: np.random.Generator, customer_id: int, profile: str, *, now: dt.datetime, first_seq: int
) -> list[Order]:
    """The customer's orders in the rhythm of their profile, numbered from `first_seq`."""
    orders = []
    for seq, days_ago in enumerate(_order_days(rng, profile), start=first_seq):
        status_roll = rng.random()
        # Drawn in the order they always were: the same seed gives the same orders.
        minutes = int(rng.integers(1440))
        amount = Decimal(str(round(float(rng.lognormal(5.3, 0.8)), 2)))
        category = CATEGORIES[rng.integers(len(CATEGORIES))]
        orders.append(
            Order(
                external_id=f"DEMO-O{seq:08d}",
                customer_id=customer_id,
                placed_at=now - dt.timedelta(days=int(days_ago), minutes=minutes),
                amount=amount,
                currency="CNY",
                category=category,
                product=PRODUCTS[category][seq % len(PRODUCTS[category])],
                channel=ORDER_CHANNELS[rng.integers(len(ORDER_CHANNELS))],
                status=OrderStatus.PAID
                if status_roll < 0.9
                else OrderStatus.REFUNDED
                if status_roll < 0.96
                else OrderStatus.CANCELLED,
            )
        )
    return orders


def _demo_interactions(
    rng: np.random.Generator,
    customer_id: int,
    *,
    now: dt.datetime,
    agents: list[User],
    note_sentiments: dict[str, float | None],
) -> list[Interaction]:
    """A few calls and chats over the history, with notes and their computed sentiment."""
    interactions = []
    for _ in range(int(rng.poisson(2.5))):
        text, outcome = NOTES[rng.integers(len(NOTES))]
        interactions.append(
            Interaction(
                customer_id=customer_id,
                channel=str(
                    rng.choice(
                        [InteractionChannel.CALL] * 4
                        + [
                            InteractionChannel.CHAT,
                            InteractionChannel.SMS,
                            InteractionChannel.WECHAT,
                        ]
                    )
                ),
                direction=Direction.INBOUND if rng.random() < 0.7 else Direction.OUTBOUND,
                occurred_at=now
                - dt.timedelta(
                    days=int(rng.integers(0, HISTORY_DAYS)), minutes=int(rng.integers(1440))
                ),
                duration_seconds=int(rng.integers(30, 900)),
                agent=agents[int(rng.integers(len(agents)))] if agents else None,
                reason=CALL_REASONS[rng.integers(len(CALL_REASONS))],
                notes=text,
                outcome=outcome,
                sentiment=note_sentiments[text],
            )
        )
    return interactions


def _demo_ticket(rng: np.random.Generator, customer_id: int, now: dt.datetime) -> Ticket | None:
    """For some customers a complaint, inquiry or suggestion, most of them resolved."""
    if rng.random() >= 0.18:
        return None
    kind = str(
        rng.choice(
            [TicketKind.COMPLAINT, TicketKind.INQUIRY, TicketKind.SUGGESTION],
            p=[0.5, 0.35, 0.15],
        )
    )
    opened = now - dt.timedelta(days=int(rng.integers(0, 200)), hours=int(rng.integers(24)))
    resolved = rng.random() < 0.7
    subjects = TICKET_SUBJECTS[TicketKind(kind)]
    return Ticket(
        customer_id=customer_id,
        kind=kind,
        status=TicketStatus.RESOLVED if resolved else TicketStatus.OPEN,
        priority=TicketPriority.HIGH if kind == TicketKind.COMPLAINT else TicketPriority.NORMAL,
        subject=subjects[rng.integers(len(subjects))],
        opened_at=opened,
        resolved_at=opened + dt.timedelta(hours=int(rng.integers(1, 96))) if resolved else None,
    )


def _demo_survey(
    rng: np.random.Generator, customer_id: int, now: dt.datetime
) -> SurveyResponse | None:
    """For some customers an NPS (0-10) or CSAT (1-5) answer within the last year."""
    if rng.random() >= 0.3:
        return None
    kind = SurveyKind.NPS if rng.random() < 0.6 else SurveyKind.CSAT
    score = int(rng.integers(0, 11)) if kind == SurveyKind.NPS else int(rng.integers(1, 6))
    return SurveyResponse(
        customer_id=customer_id,
        kind=kind,
        score=score,
        comment=SURVEY_COMMENTS[rng.integers(len(SURVEY_COMMENTS))],
        responded_at=now - dt.timedelta(days=int(rng.integers(0, 365))),
    )


# Business accounts given contacts in the demo, and the roles their 2-4 contacts take in turn.
DEMO_ACCOUNTS = 6
_DEMO_ACCOUNT_ROLES = (
    AccountRole.DECISION_MAKER,
    AccountRole.FINANCE,
    AccountRole.USER,
    AccountRole.HR,
)


def _demo_accounts(rng: np.random.Generator, ids: list[int], profiles: np.ndarray) -> int:
    """Make 2-4 ordering persons contacts of each of the first DEMO_ACCOUNTS businesses (with
    roles); returns how many contacts were linked."""
    kinds = dict(Customer.objects.filter(pk__in=ids).values_list("id", "kind"))
    businesses = [pk for pk in ids if kinds[pk] == CustomerKind.BUSINESS][:DEMO_ACCOUNTS]
    buyers = [
        pk
        for pk, profile in zip(ids, profiles, strict=True)
        if kinds[pk] == CustomerKind.PERSON and profile in ("loyal", "regular")
    ]
    rng.shuffle(buyers)
    links: list[Customer] = []
    for account_id in businesses:
        for role in _DEMO_ACCOUNT_ROLES[: int(rng.integers(2, 5))]:
            if not buyers:
                break
            links.append(Customer(pk=buyers.pop(), account_id=account_id, account_role=role))
    Customer.objects.bulk_update(links, ["account", "account_role"])
    return len(links)


@transaction.atomic
def demo_data_create(*, customers: int = 2000, seed: int = 20261123) -> DemoSummary:
    """Create `customers` demo customers with their history in bulk."""
    rng = np.random.default_rng(seed)
    now = timezone.now()
    agents = list(get_user_model().objects.filter(groups__name=Role.AGENT))
    advisors = list(get_user_model().objects.filter(username__in=("supervisor", "agent1")))
    profiles = rng.choice(
        ["loyal", "regular", "dormant", "lost", "new", "prospect"],
        size=customers,
        p=[0.15, 0.35, 0.15, 0.15, 0.1, 0.1],
    )
    start_id = (Customer.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    used_phones = set(
        ContactPoint.objects.filter(kind=ContactKind.PHONE).values_list("value", flat=True)
    )
    note_sentiments = {text: sentiment_score(text) for text, _outcome in NOTES}

    customer_rows = [
        _demo_customer(rng, f"{DEMO_ID_PREFIX}{start_id + index:07d}", advisors)
        for index in range(customers)
    ]
    _bulk(Customer, customer_rows)
    saved = list(
        Customer.objects.filter(external_id__in=[c.external_id for c in customer_rows])
        .order_by("id")
        .values_list("id", "external_id")
    )
    ids = [customer_id for customer_id, _external in saved]

    contact_rows: list[ContactPoint] = []
    orders: list[Order] = []
    interactions: list[Interaction] = []
    tickets: list[Ticket] = []
    surveys: list[SurveyResponse] = []
    order_seq = Order.objects.count()
    for customer_id, profile in zip(ids, profiles, strict=True):
        contact_rows += _demo_contacts(rng, customer_id, used_phones)
        new_orders = _demo_orders(rng, customer_id, str(profile), now=now, first_seq=order_seq + 1)
        order_seq += len(new_orders)
        orders += new_orders
        interactions += _demo_interactions(
            rng, customer_id, now=now, agents=agents, note_sentiments=note_sentiments
        )
        if (ticket := _demo_ticket(rng, customer_id, now)) is not None:
            tickets.append(ticket)
        if (survey := _demo_survey(rng, customer_id, now)) is not None:
            surveys.append(survey)
    for model, rows in (
        (ContactPoint, contact_rows),
        (Order, orders),
        (Interaction, interactions),
        (Ticket, tickets),
        (SurveyResponse, surveys),
    ):
        _bulk(model, rows)
    _demo_accounts(rng, ids, profiles)
    return DemoSummary(len(ids), len(orders), len(interactions), len(tickets), len(surveys))


def demo_seed(
    *, customers: int, password: str | None, if_empty: bool
) -> tuple[DemoSummary | None, str, bool]:
    """Create demo users and, unless data exists and `if_empty` is set, demo customers."""
    password, generated = demo_users_ensure(password=password)
    if if_empty and Customer.objects.exists():
        return None, password, generated
    summary = demo_data_create(customers=customers)
    demo_statistics_update()
    return summary, password, generated


def demo_statistics_update() -> None:
    """ANALYZE the tables the demo filled. Bulk-loaded tables have no planner statistics until
    autovacuum comes by, a minute or more later; meanwhile PostgreSQL plans every join for one
    row a side, and the first start's queries (the refresh, the care work) take seconds where
    they take milliseconds."""
    models_filled = (Customer, ContactPoint, Order, Interaction, Ticket, SurveyResponse)
    with connection.cursor() as cursor:
        for model in models_filled:
            cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(model._meta.db_table)))
