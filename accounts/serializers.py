"""Input and output shapes of the accounts API. No queries beyond uniqueness checks."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import User
from accounts.selectors import email_taken, username_taken
from timetodo.inputs import StrictInput

PASSWORD_MAX_LENGTH = 128


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "username", "full_name", "date_joined"]
        read_only_fields = fields


class UsernameField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 150)
        kwargs.setdefault("min_length", 1)
        super().__init__(validators=[UnicodeUsernameValidator()], **kwargs)


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", PASSWORD_MAX_LENGTH)
        super().__init__(write_only=True, trim_whitespace=False, style={"input_type": "password"}, **kwargs)


def validate_new_password(password: str, user: User) -> None:
    """Django's validators (length, common, numeric, similarity to the user's details)."""
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(list(exc.messages)) from None


class RegisterSerializer(StrictInput):
    email = serializers.EmailField(max_length=254)
    username = UsernameField()
    password = PasswordField()
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    def validate_email(self, value: str) -> str:
        if email_taken(value.strip()):
            raise serializers.ValidationError("A user with that email address already exists.")
        return value

    def validate_username(self, value: str) -> str:
        if username_taken(value.strip()):
            raise serializers.ValidationError("A user with that username already exists.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(email=attrs["email"], username=attrs["username"], full_name=attrs.get("full_name", ""))
        try:
            validate_new_password(attrs["password"], candidate)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"password": exc.detail}) from None
        return attrs


class LoginSerializer(StrictInput):
    email = serializers.CharField(max_length=254, required=False)
    username = serializers.CharField(max_length=254, required=False)
    password = PasswordField(max_length=1024)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("email") and not attrs.get("username"):
            raise serializers.ValidationError({"email": ["Provide your email address or username."]})
        return attrs


class RefreshSerializer(StrictInput):
    refresh = serializers.CharField(max_length=4096)


class PasswordChangeSerializer(StrictInput):
    old_password = PasswordField(max_length=1024)
    new_password = PasswordField()

    def validate_old_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("The current password is not correct.")
        return value

    def validate_new_password(self, value: str) -> str:
        validate_new_password(value, self.context["user"])
        return value


class ProfileUpdateSerializer(StrictInput):
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    username = UsernameField(required=False)

    def validate_username(self, value: str) -> str:
        if username_taken(value.strip(), exclude=self.context["user"]):
            raise serializers.ValidationError("A user with that username already exists.")
        return value


class TokenPairSerializer(serializers.Serializer[dict[str, Any]]):
    access = serializers.CharField()
    refresh = serializers.CharField()


class AuthResponseSerializer(TokenPairSerializer):
    user = UserSerializer()
