from django.urls import re_path

from realtime.consumers import NotFoundConsumer

websocket_urlpatterns = [
    # The `/ws/` consumer arrives with the realtime issue; until then every path is 4404.
    re_path(r"", NotFoundConsumer.as_asgi()),
]
