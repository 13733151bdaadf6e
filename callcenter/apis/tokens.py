"""REST API of API tokens (admins): list who holds one and until when, revoke one.

Keys are never shown. A user has at most one token, so a token is addressed by its user's id:
`DELETE /api/tokens/{user_id}/` revokes it (audited), 404 when the user has none.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.http import AuthenticatedRequest
from callcenter.pagination import DefaultCursorPagination
from callcenter.roles import IsAdmin
from callcenter.selectors.tokens import api_token_list
from callcenter.services.tokens import api_token_revoke
from callcenter.services.users import user_role


class ApiTokenSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    role = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(source="user.is_active")
    created = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    expired = serializers.SerializerMethodField()

    def get_role(self, token: Any) -> str | None:
        return user_role(token.user)

    def get_expired(self, token: Any) -> bool:
        return token.expires_at <= timezone.now()


class TokenCursorPagination(DefaultCursorPagination):
    """Oldest first (those expire first); tokens have no id but an issue time."""

    ordering = "created"


class ApiTokenListApi(APIView):
    """Every API token: its user, role, when it was issued and when it expires (admins)."""

    permission_classes = [IsAdmin]

    @extend_schema(summary="API tokens (never their keys)", responses=ApiTokenSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        paginator = TokenCursorPagination()
        page = paginator.paginate_queryset(api_token_list(), request, view=self)
        return paginator.get_paginated_response(ApiTokenSerializer(page, many=True).data)


class ApiTokenDetailApi(APIView):
    """Revoke a user's API token (admins; audited)."""

    permission_classes = [IsAdmin]

    @extend_schema(summary="Revoke a user's API token", responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        user = get_object_or_404(get_user_model(), pk=pk)
        if not api_token_revoke(user=user, revoked_by=request.user):
            raise NotFound(_("This user has no API token."))
        return Response(status=status.HTTP_204_NO_CONTENT)
