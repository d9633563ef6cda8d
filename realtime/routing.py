from django.urls import path, re_path

from realtime.consumers import BoardConsumer, NotFoundConsumer

websocket_urlpatterns = [
    path("ws/", BoardConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),
]
