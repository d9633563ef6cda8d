"""The ASGI app: sockets pass the origin check (browsers) and auth, unknown paths close with 4404."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from tests.helpers.teams import Team
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


@pytest.mark.parametrize("origin", [b"null", b"", b"http://evil.example", b"http://testserver.evil.example"])
async def test_a_present_origin_must_be_an_allowed_host(origin: bytes) -> None:
    communicator = WebsocketCommunicator(application, "/ws/", headers=[(b"origin", origin)])
    try:
        connected, _ = await communicator.connect()
        assert not connected
    finally:
        await communicator.disconnect()


async def test_an_older_browsers_sec_websocket_origin_is_checked_too() -> None:
    # (hybi-08 to -10 handshakes, which Daphne accepts, name the page in Sec-WebSocket-Origin)
    headers = [(b"sec-websocket-origin", b"http://evil.example")]
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    try:
        connected, _ = await communicator.connect()
        assert not connected
    finally:
        await communicator.disconnect()


async def test_one_foreign_origin_among_several_is_refused() -> None:
    headers = [(b"origin", b"http://testserver"), (b"origin", b"http://evil.example")]
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    try:
        connected, _ = await communicator.connect()
        assert not connected
    finally:
        await communicator.disconnect()


async def test_a_client_without_an_origin_is_accepted_and_authenticates_with_the_auth_frame(team: Team) -> None:
    """Scripts, mobile and desktop apps send no Origin header (docs/api.md "WebSocket" 6)."""
    communicator = WebsocketCommunicator(application, "/ws/")
    try:
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"type": "auth", "token": str(AccessToken.for_user(team.users["viewer"]))})
        assert (await communicator.receive_json_from(timeout=2))["type"] == "hello"
        await communicator.send_json_to({"type": "subscribe", "project": str(team.project.pk)})
        assert await communicator.receive_json_from(timeout=2) == {
            "type": "subscribed",
            "project": str(team.project.pk),
            "seq": 0,
        }
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
