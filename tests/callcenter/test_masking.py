"""The masking policy (callcenter.masking): what agents see of contact details, the same in
Python (serializers, pages) and in SQL (the screen-pop statement)."""

import pytest

from callcenter.choices import ContactKind
from callcenter.masking import mask_address, mask_contact, sql_contact_for
from callcenter.phones import mask_phone
from callcenter.prepared import fetch_prepared

VALUES = [
    (ContactKind.PHONE, "+8613912345678"),
    (ContactKind.PHONE, "+861065529988"),
    (ContactKind.PHONE, "+12025550143"),
    (ContactKind.PHONE, "+35312345"),
    (ContactKind.PHONE, "+6831234"),
    (ContactKind.PHONE, "+12345"),
    (ContactKind.EMAIL, "wang.fang@example.com"),
    (ContactKind.EMAIL, "a@b.cn"),
    (ContactKind.EMAIL, "@nolocal.example"),
    (ContactKind.EMAIL, "not-an-email"),
    (ContactKind.WECHAT, "wxid_abc123def"),
    (ContactKind.WECHAT, "王芳的微信号码"),
    (ContactKind.WECHAT, "short"),
    (ContactKind.EXTERNAL, "SHOP-000042"),
    (ContactKind.EXTERNAL, ""),
]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+8613912345678", "+8613*****5678"),
        ("+12025550143", "+1202***0143"),
        # short numbers keep at least three digits hidden (the old mask showed these whole)
        ("+35312345", "+3***2345"),
        ("+6831234", "+***1234"),
        ("+12345", "******"),
    ],
)
def test_a_phone_keeps_its_country_code_and_last_four_digits_only(value, masked) -> None:
    assert mask_phone(value) == masked


def test_emails_and_ids_keep_only_their_ends() -> None:
    assert mask_contact(ContactKind.EMAIL, "wang.fang@example.com") == "w***@example.com"
    assert mask_contact(ContactKind.WECHAT, "wxid_abc123def") == "wx**********ef"
    assert mask_contact(ContactKind.EXTERNAL, "C-4242") == "******"
    assert mask_address("+8613912345678") == "+8613*****5678"
    assert mask_address("li@example.com") == "l***@example.com"


@pytest.mark.parametrize(("kind", "value"), VALUES)
def test_masking_a_masked_value_changes_nothing(kind, value) -> None:
    once = mask_contact(kind, value)

    assert mask_contact(kind, once) == once


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "value"), VALUES)
def test_the_sql_masks_write_what_the_python_masks_write(kind, value) -> None:
    sql = f"SELECT {sql_contact_for('%(full)s', '%(kind)s::text', '%(value)s::text')} AS shown"

    masked = fetch_prepared("default", sql, {"full": False, "kind": kind, "value": value})
    full = fetch_prepared("default", sql, {"full": True, "kind": kind, "value": value})

    assert masked == [{"shown": mask_contact(kind, value)}]
    assert full == [{"shown": value}]
