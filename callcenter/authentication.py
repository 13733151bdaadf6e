"""API token authentication that brings the user's roles in the same query.

DRF's `TokenAuthentication` loads the token and its user with one ORM query, and the role
check (`callcenter.roles.user_roles`) then asks for the user's groups with another. On the
screen-pop, which runs on every ringing call, compiling those two querysets cost more CPU than
the card's own SQL (bench/screenpop.py measures it). Here one written-out statement returns
the token, the user and the role names; the user is built with `Model.from_db` as the ORM
would, and its roles are cached on it where `user_roles` looks first. Nothing is cached across
requests: a deleted token, a deactivated user or a changed role counts from the next request.

A token older than API_TOKEN_TTL_DAYS is refused with 401 and says so (its creation time is in
the same row, so expiry costs no query). Password changes and admins delete tokens
(callcenter.services.tokens); a deleted token is simply unknown.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from psycopg import sql
from psycopg.rows import tuple_row
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from callcenter.prepared import fetch_prepared
from callcenter.roles import user_roles_preload
from callcenter.selectors.tokens import api_token_expires_at


class TokenExpired(exceptions.APIException):
    """401 with a `WWW-Authenticate: Token` challenge. Not an AuthenticationFailed: DRF turns
    those into 403 when the first authentication scheme (sessions) has no challenge."""

    status_code = 401
    default_code = "token_expired"
    auth_header = "Token"


def _column(field: Field) -> str:
    """The column of a concrete field (which always has one)."""
    assert field.column is not None
    return field.column


def _token_sql() -> tuple[sql.Composed, list[str], list[str]]:
    """The statement, and the attribute names of the user's and the token's columns in it."""
    user_model = get_user_model()
    token_model = Token
    user_fields = list(user_model._meta.concrete_fields)
    token_fields = list(token_model._meta.concrete_fields)
    columns = [sql.Identifier("u", _column(field)) for field in user_fields] + [
        sql.Identifier("t", _column(field)) for field in token_fields
    ]
    groups = user_model._meta.get_field("groups").remote_field
    assert groups.through is not None  # a many-to-many relation has one
    statement = sql.SQL(
        "SELECT {columns}, ARRAY(SELECT g.name FROM {through} ug "
        "JOIN {group} g ON g.id = ug.group_id "
        "WHERE ug.user_id = u.id AND g.name = ANY(%(roles)s)) "
        "FROM {token} t JOIN {user} u ON u.{user_pk} = t.user_id WHERE t.key = %(key)s"
    ).format(
        columns=sql.SQL(", ").join(columns),
        through=sql.Identifier(groups.through._meta.db_table),
        group=sql.Identifier(groups.model._meta.db_table),
        token=sql.Identifier(token_model._meta.db_table),
        user=sql.Identifier(user_model._meta.db_table),
        user_pk=sql.Identifier(_column(user_model._meta.pk)),
    )
    return (
        statement,
        [field.attname for field in user_fields],
        [field.attname for field in token_fields],
    )


class TokenWithRolesAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's, answered by one query that also loads roles."""

    _statement: tuple[str, list[str], list[str]] | None = None

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if TokenWithRolesAuthentication._statement is None:
            composed, user_names, token_names = _token_sql()
            TokenWithRolesAuthentication._statement = (
                composed.as_string(),
                user_names,
                token_names,
            )
        statement, user_names, token_names = TokenWithRolesAuthentication._statement
        params = {"key": key, "roles": list(Role.values)}
        rows = fetch_prepared("default", statement, params, row_factory=tuple_row)
        row = rows[0] if rows else None
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user_values = row[: len(user_names)]
        token_values = row[len(user_names) : len(user_names) + len(token_names)]
        user = get_user_model().from_db("default", user_names, user_values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user_roles_preload(user, row[-1])
        token = Token.from_db("default", token_names, token_values)
        expires_at = api_token_expires_at(created=token.created)
        if expires_at <= timezone.now():
            raise TokenExpired(
                gettext("This API token expired on %(date)s; ask an admin for a new one.")
                % {"date": timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M %Z")}
            )
        token.user = user
        return user, token
