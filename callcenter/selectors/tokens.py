"""Reads of API tokens (never their keys): who holds one, since when, until when."""

import datetime as dt
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import DateTimeField, ExpressionWrapper, F, Prefetch, QuerySet, Value
from rest_framework.authtoken.models import Token

from callcenter.choices import Role

if TYPE_CHECKING:
    # Types only: on Python 3.11 WithAnnotations[Model, TypedDict] fails at runtime.
    from django_stubs_ext import WithAnnotations


class TokenExpiry(TypedDict):
    """The annotation `api_token_list` adds: when the token stops working."""

    expires_at: dt.datetime


def api_token_ttl() -> dt.timedelta:
    """How long a token lives after it was issued (API_TOKEN_TTL_DAYS)."""
    return dt.timedelta(days=settings.API_TOKEN_TTL_DAYS)


def api_token_expires_at(*, created: dt.datetime) -> dt.datetime:
    """The moment a token issued at `created` stops working."""
    return created + api_token_ttl()


def api_token_list() -> "QuerySet[WithAnnotations[Token, TokenExpiry]]":
    """Every API token with its user and the user's role groups (two queries for any page),
    and `expires_at`; oldest first: those expire first."""
    expires_at = ExpressionWrapper(F("created") + Value(api_token_ttl()), DateTimeField())
    return (
        Token.objects.annotate(expires_at=expires_at)
        .select_related("user")
        .prefetch_related(
            Prefetch("user__groups", queryset=Group.objects.filter(name__in=Role.values))
        )
        .order_by("created", "user_id")
    )
