"""Input serializers that take JSON values of the right type only.

DRF coerces: a string field accepts 42 and stores "42", an integer field accepts "42" and
4.0, a boolean field accepts "yes". Clients of a JSON API that send the wrong type have a
bug; we answer 400 naming the field instead of guessing. Form and multipart bodies (the
browsable API's forms) carry strings only and are left to DRF's own parsing. No string
value may hold a NUL character, whatever the field (PostgreSQL cannot store one in text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

# The JSON types each kind of field accepts (null is the field's own allow_null business).
JSON_TYPES: list[tuple[type[serializers.Field], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "a boolean"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.ListField, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
    (serializers.CharField, (str,), "a string"),  # also email, regex, slug, url fields
    (serializers.UUIDField, (str,), "a string"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.DateField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string"),
]


def type_error(field: serializers.Field, value: Any) -> Any:
    """Why `value` cannot be given to `field` (a message, or a list/dict of them), or None."""
    if value is None:
        return None
    if isinstance(value, str) and "\x00" in value:
        # (Python's date parsing stops at a NUL and would accept "2026-01-01\x00junk")
        return "Null characters are not allowed."
    for kind, types, name in JSON_TYPES:
        if isinstance(field, kind):
            if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                return f"Expected {name}, got {type(value).__name__}."
            break
    if isinstance(field, serializers.ListField):
        errors = {}
        for index, item in enumerate(value):
            error = type_error(field.child, item)
            if error is not None:
                errors[index] = [error] if isinstance(error, str) else error
        return errors or None
    if isinstance(field, serializers.Serializer) and isinstance(value, Mapping):
        return (field.type_errors(value) or None) if isinstance(field, StrictInput) else None
    return None


class StrictInput(serializers.Serializer[dict[str, Any]]):
    """A write serializer whose JSON values must already have the field's type."""

    def type_errors(self, data: Mapping[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        for field in self._writable_fields:
            name = field.field_name
            if name is None or field.source == "*" or name not in data:
                continue
            error = type_error(field, data[name])
            if error is not None:
                errors[name] = [error] if isinstance(error, str) else error
        return errors

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = self.type_errors(data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
