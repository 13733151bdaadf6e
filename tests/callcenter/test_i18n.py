"""The Simplified Chinese translation is complete, compiled, and used by the pages."""

import gettext
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from callcenter.choices import CustomerKind, Role
from tests.callcenter.factories import BusinessCustomerFactory, UserFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdf]")


@dataclass
class PoEntry:
    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


def _unquote(text: str) -> str:
    """A .po string literal (without its quotes) as text."""
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), text[1:-1])


def parse_po(path: Path) -> list[PoEntry]:
    """A tiny .po parser: entries with flags, context, plural forms and wrapped strings."""
    entries: list[PoEntry] = []
    entry: PoEntry | None = None
    target: tuple[str, int] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            entry, target = None, None
            continue
        if entry is None:
            entry = PoEntry(line=number)
            entries.append(entry)
        if line.startswith("#~"):
            entry.obsolete = True
            continue
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = "", line
        if keyword == "msgid":
            entry.msgid, target = _unquote(rest), ("msgid", 0)
        elif keyword == "msgid_plural":
            entry.msgid_plural, target = _unquote(rest), ("msgid_plural", 0)
        elif keyword == "msgctxt":
            entry.msgctxt, target = _unquote(rest), ("msgctxt", 0)
        elif keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            entry.msgstr[index], target = _unquote(rest), ("msgstr", index)
        elif keyword == "" and target is not None:
            name, index = target
            if name == "msgstr":
                entry.msgstr[index] += _unquote(rest)
            else:
                setattr(entry, name, (getattr(entry, name) or "") + _unquote(rest))
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    return entries


def _messages() -> list[PoEntry]:
    return [entry for entry in parse_po(PO_FILE) if entry.msgid and not entry.obsolete]


@pytest.fixture(autouse=True)
def _back_to_english() -> Iterator[None]:
    """Pages activate the requested language on this thread; leave English for other tests."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_po_file_has_no_untranslated_or_fuzzy_messages() -> None:
    entries = parse_po(PO_FILE)
    header = entries[0]
    messages = _messages()

    untranslated = [
        f"line {e.line}: {e.msgid!r}"
        for e in messages
        if not e.msgstr or not all(text.strip() for text in e.msgstr.values())
    ]
    fuzzy = [f"line {e.line}: {e.msgid!r}" for e in entries if "fuzzy" in e.flags]

    assert header.msgid == ""
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr[0]
    assert len(messages) > 100
    assert untranslated == [], "untranslated messages:\n" + "\n".join(untranslated)
    assert fuzzy == [], "fuzzy messages (review and remove the flag):\n" + "\n".join(fuzzy)


def test_translations_keep_every_placeholder() -> None:
    broken = [
        f"line {e.line}: {e.msgid!r}"
        for e in _messages()
        for text in e.msgstr.values()
        if sorted(PLACEHOLDER.findall(e.msgid)) != sorted(PLACEHOLDER.findall(text))
    ]

    assert broken == [], "placeholders differ:\n" + "\n".join(broken)


def test_compiled_mo_matches_the_po_file() -> None:
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    stale = []
    for e in _messages():
        if e.msgid_plural is not None:
            got = compiled.ngettext(e.msgid, e.msgid_plural, 1)
        elif e.msgctxt is not None:
            got = compiled.pgettext(e.msgctxt, e.msgid)
        else:
            got = compiled.gettext(e.msgid)
        if got != e.msgstr[0]:
            stale.append(f"line {e.line}: {e.msgid!r}")

    assert stale == [], "run compilemessages; the .mo lacks:\n" + "\n".join(stale)


@pytest.mark.django_db
def test_pages_in_simplified_chinese_show_chinese_navigation(client: Client) -> None:
    # given a supervisor who chose Simplified Chinese
    client.force_login(UserFactory(username="zh-supervisor", role=Role.SUPERVISOR))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    customer = BusinessCustomerFactory(name="Acme Buyer", kind=CustomerKind.BUSINESS)

    # when
    search = client.get(reverse("customer-search"), {"q": "Acme"}).content.decode()
    card = client.get(reverse("customer-detail", args=[customer.pk])).content.decode()

    # then the navigation, headings and choice labels are Chinese
    for text in ("客户", "导入", "API 文档", "退出登录", "主管", "呼叫中心 CRM", "主要电话"):
        assert text in search, text
    assert 'lang="zh-CN"' in search
    assert "Log out" not in search
    for text in ("基本资料", "联系方式", "联系授权", "活动记录", "企业"):
        assert text in card, text


@pytest.mark.django_db
def test_language_switch_changes_the_page_language(client: Client) -> None:
    client.force_login(UserFactory(username="switcher", role=Role.AGENT))
    url = reverse("customer-search")
    before = client.get(url).content.decode()

    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": url})
    after = client.get(url).content.decode()

    assert "Log out" in before
    assert response.status_code == 302
    assert response["Location"] == url
    assert "退出登录" in after
    assert "坐席" in after


@pytest.mark.django_db
def test_login_page_is_translated(client: Client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"

    html = client.get(reverse("login")).content.decode()

    assert "登录您的账户" in html
    assert "用户名" in html  # Django's own translation of the form label
