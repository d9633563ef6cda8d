"""Project-wide HTTP endpoints: health probes and Prometheus metrics."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe
from django_prometheus.exports import ExportToDjangoView

from timetodo import __version__, health, lifecycle
from timetodo.metrics import job_queue_exposition


def _stamp() -> dict[str, str]:
    return {"timestamp": timezone.now().isoformat(), "version": __version__}


@never_cache
@require_safe
def health_live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No database, cache or network I/O.

    A web process answers at all only once its database and migrations are ready
    (`timetodo.webserver`); while it drains it still answers 200 here (it is alive and
    finishing its work) and says `draining`; `/health/detailed` is the one that turns 503.
    """
    status = lifecycle.DRAINING if lifecycle.is_draining() else health.HEALTHY
    return JsonResponse({"status": status, **_stamp()})


@never_cache
@require_safe
def health_detailed(request: HttpRequest) -> JsonResponse:
    """Readiness: every dependency answers and the process is not draining; 503 otherwise."""
    results = health.run_all_checks()
    failing = [name for name, result in results.items() if not result.ok]
    draining = lifecycle.is_draining()
    status = lifecycle.DRAINING if draining else health.UNHEALTHY if failing else health.HEALTHY
    body: dict[str, object] = {
        "status": status,
        **{name: result.status for name, result in results.items()},
        "failing": failing,
        "draining": draining,
        "queue": results["jobs"].figures,
        **_stamp(),
    }
    return JsonResponse(body, status=503 if failing or draining else 200)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; behind `Authorization: Bearer <METRICS_TOKEN>` when that is set."""
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            response = JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    response = ExportToDjangoView(request)
    response.content += job_queue_exposition()  # (read from the database, not kept per process)
    return response
