"""The accounts API: /api/v1/auth/ (docs/api.md "Accounts")."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.auth import request_user
from accounts.models import User
from accounts.selectors import user_find_for_login
from accounts.serializers import (
    AuthResponseSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from accounts.throttling import login_attempt_from_ip, login_attempt_on_account
from timetodo.throttling import ScopedThrottle

BAD_CREDENTIALS = "No active account found with the given credentials."


class PublicAuthView(APIView):
    """Endpoints used before having a token: any Authorization header is ignored."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def auth_response(user: User, pair: services.TokenPair, *, status_code: int = status.HTTP_200_OK) -> Response:
    body = {"user": UserSerializer(user).data, "access": pair.access, "refresh": pair.refresh}
    return Response(body, status=status_code)


class RegisterView(PublicAuthView):
    throttle_classes = (ScopedThrottle,)
    throttle_scope = "register"

    @extend_schema(request=RegisterSerializer, responses={201: AuthResponseSerializer})
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        user = services.user_register(
            email=data["email"], username=data["username"], password=data["password"], full_name=data["full_name"]
        )
        return auth_response(user, services.token_pair_issue(user=user), status_code=status.HTTP_201_CREATED)


class LoginView(PublicAuthView):
    @extend_schema(request=LoginSerializer, responses={200: AuthResponseSerializer})
    def post(self, request: Request) -> Response:
        wait = login_attempt_from_ip(request)
        serializer = LoginSerializer(data=request.data)
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        serializer.is_valid(raise_exception=True)
        email, username = serializer.validated_data.get("email"), serializer.validated_data.get("username")
        account = user_find_for_login(email=email, username=None if email else username)
        wait = login_attempt_on_account(request, user=account, identifier=email or username)
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        password = serializer.validated_data["password"]
        credentials = {"email": email} if email else {"username": username}
        user = authenticate(request, password=password, **credentials)
        if not isinstance(user, User):
            raise exceptions.AuthenticationFailed(BAD_CREDENTIALS)
        return auth_response(user, services.user_logged_in(user=user))


class RefreshView(PublicAuthView):
    @extend_schema(request=RefreshSerializer, responses={200: TokenPairSerializer})
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.refresh_token_rotate(raw_token=serializer.validated_data["refresh"])
        return Response({"access": pair.access, "refresh": pair.refresh})


class LogoutView(PublicAuthView):
    @extend_schema(request=RefreshSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.refresh_token_revoke(raw_token=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        user = request_user(request)
        return Response(UserSerializer(user).data)

    @extend_schema(request=ProfileUpdateSerializer, responses=UserSerializer)
    def patch(self, request: Request) -> Response:
        user = request_user(request)
        serializer = ProfileUpdateSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        services.user_profile_update(user=user, **serializer.validated_data)
        return Response(UserSerializer(user).data)


class PasswordChangeView(APIView):
    # The old password is a secret too: a stolen access token must not let anyone guess it.
    throttle_classes = (ScopedThrottle,)
    throttle_scope = "password"

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        user = request_user(request)
        serializer = PasswordChangeSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        services.user_password_change(
            user=user, new_password=serializer.validated_data["new_password"], request=request._request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
