"""ASGI entry point: HTTP goes to Django; WebSockets pass origin and auth checks to `realtime`."""

import os
import sys

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timetodo.settings")

# Set up Django (settings, apps) before importing anything that touches models.
try:
    if settings.SECRET_KEY_PROBLEM:  # serving needs a real key; offline commands do not
        raise ImproperlyConfigured(settings.SECRET_KEY_PROBLEM)
    django.setup(set_prefix=False)
    from timetodo.handler import OneHopASGIHandler

    django_asgi_app = OneHopASGIHandler()
except ImproperlyConfigured as exc:
    # A configuration mistake is the operator's to fix: say it in one sentence.
    sys.exit(f"Time to DO cannot start: {exc}")

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter

from realtime.middleware import OpenSocketGaugeMiddleware, allowed_hosts_origin_validator
from realtime.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OpenSocketGaugeMiddleware(
            allowed_hosts_origin_validator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
