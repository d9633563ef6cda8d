"""The API's exception handler: DRF's shapes, domain errors as 4xx, 413 for bodies over the size limit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from timetodo.errors import DomainError, Unauthenticated

DEFAULT_AUTHENTICATE_HEADER = 'Bearer realm="api"'


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        response = Response(exc.body(), status=exc.status_code, headers=exc.headers())
        if isinstance(exc, Unauthenticated):
            response["WWW-Authenticate"] = authenticate_header(context)
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body is too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFilesSent | TooManyFieldsSent):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)


def authenticate_header(context: dict[str, Any]) -> str:
    """What a 401 must carry (RFC 9110): the view's scheme, as DRF gives its own 401s."""
    view, request = context.get("view"), context.get("request")
    header = view.get_authenticate_header(request) if view is not None and request is not None else None
    return header or DEFAULT_AUTHENTICATE_HEADER
