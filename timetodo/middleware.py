"""Project-wide middleware: request ids, one log line per request, health probes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.encoding import escape_uri_path

from timetodo import views
from timetodo.logs import request_id_from_header, request_id_var

logger = logging.getLogger("timetodo.request")

HEALTH_VIEWS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health": views.health_live,
    "/health/": views.health_live,
    "/health/detailed": views.health_detailed,
    "/health/detailed/": views.health_detailed,
}


class RequestIdMiddleware:
    """Takes `X-Request-ID` (or makes one), puts it on every log line, echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get("X-Request-ID"))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "%s %s %s %.1fms",
                request.method,
                escape_uri_path(request.path),  # percent-encoded: a path cannot forge log lines
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response
        finally:
            request_id_var.reset(token)


class HealthCheckMiddleware:
    """Answers the health probes before host validation and the HTTPS redirect.

    Load balancers and the container HEALTHCHECK call `/health` over plain HTTP with a
    Host header (an internal address, `localhost`) that ALLOWED_HOSTS rightly does not
    list; the probes reveal nothing that needs either protection.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = HEALTH_VIEWS.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A database that cannot be reached while a view runs (every API request reads it) is
    a 503 JSON answer with Retry-After, not a 500 page: clients and load balancers retry,
    and nothing half-written is left behind (the request's transaction never committed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return self.unavailable(exception)
        return None

    @staticmethod
    def unavailable(exc: Exception) -> HttpResponse:
        message = str(exc).strip()
        logger.error("database unavailable: %s", message.splitlines()[0] if message else exc)
        response = JsonResponse({"detail": "The database is unavailable. Try again shortly."}, status=503)
        response["Retry-After"] = "5"
        return response
