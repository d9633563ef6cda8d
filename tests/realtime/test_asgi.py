"""The ASGI app: sockets pass the origin check and auth, unknown paths close with 4404."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from timetodo.asgi import application
from timetodo.metrics import OPEN_WEBSOCKETS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def open_sockets() -> float:
    return OPEN_WEBSOCKETS._value.get()


async def test_unknown_socket_path_is_accepted_then_closed_with_4404() -> None:
    communicator = WebsocketCommunicator(application, "/ws/nothing-here/", headers=[(b"origin", b"http://localhost")])
    try:
        connected, _ = await communicator.connect()
        assert connected
        closed = await communicator.receive_output(timeout=2)
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 4404
    finally:
        await communicator.disconnect()


async def test_a_foreign_origin_is_refused_at_the_handshake() -> None:
    communicator = WebsocketCommunicator(application, "/ws/", headers=[(b"origin", b"https://evil.example.net")])
    try:
        connected, _ = await communicator.connect()
        assert not connected
    finally:
        await communicator.disconnect()


async def test_open_sockets_are_counted_until_they_close() -> None:
    before = open_sockets()
    communicator = WebsocketCommunicator(application, "/ws/", headers=[(b"origin", b"http://testserver")])
    try:
        connected, _ = await communicator.connect()
        assert connected
        assert open_sockets() == before + 1
    finally:
        await communicator.disconnect()
    assert open_sockets() == before
