"""timetodo.handler: each HTTP request is served in one hop to a kept thread, the whole
request (signals, middleware, view) in that one thread, its database connection given
back before the response leaves, streaming responses closed after they are sent."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core import signals
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from timetodo.handler import OneHopASGIHandler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

seen: list[tuple[str, int]] = []  # (what, thread id), in the order they happened


def where(what: str) -> None:
    seen.append((what, threading.get_ident()))


def thread_view(request: HttpRequest) -> HttpResponse:
    where("view")
    return JsonResponse({"thread": threading.get_ident(), "body": request.body.decode()})


def database_view(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"connected": connection.connection is not None})


def connection_view(request: HttpRequest) -> HttpResponse:
    # What the previous request of this thread left behind.
    return JsonResponse({"connected": connection.connection is not None})


def stream_view(request: HttpRequest) -> StreamingHttpResponse:
    def parts() -> Iterator[bytes]:
        for n in range(3):
            where(f"part {n}")
            yield f"part {n};".encode()

    response = StreamingHttpResponse(parts(), content_type="text/plain")
    response._resource_closers.append(lambda: where("stream closed"))  # type: ignore[attr-defined]
    return response


def boom_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


chosen: contextvars.ContextVar[str] = contextvars.ContextVar("chosen", default="unset")
release = threading.Event()


def long_stream_view(request: HttpRequest) -> StreamingHttpResponse:
    chosen.set("by the view")

    def parts() -> Iterator[bytes]:
        for n in range(1000):
            where(f"part {n} {chosen.get()}")
            yield b"x" * 1000

    response = StreamingHttpResponse(parts(), content_type="text/plain")
    response._resource_closers.append(lambda: where("stream closed"))  # type: ignore[attr-defined]
    return response


def slow_stream_view(request: HttpRequest) -> StreamingHttpResponse:
    release.wait(5)
    response = StreamingHttpResponse(iter([b"late"]), content_type="text/plain")
    response._resource_closers.append(lambda: where("stream closed"))  # type: ignore[attr-defined]
    return response


def wait_view(request: HttpRequest) -> HttpResponse:
    release.wait(5)
    return HttpResponse("waited")


def probe_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("alive")


urlpatterns = [
    path("thread", thread_view),
    path("database", database_view),
    path("connection", connection_view),
    path("stream", stream_view),
    path("boom", boom_view),
    path("long", long_stream_view),
    path("slow", slow_stream_view),
    path("wait", wait_view),
    path("health", probe_view),
]


class RecordingMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where("middleware")
        return self.get_response(request)


def started(**kwargs: Any) -> None:
    where("started")


def finished(**kwargs: Any) -> None:
    where("finished")


@pytest.fixture
def handler() -> Iterator[OneHopASGIHandler]:
    seen.clear()
    release.clear()
    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    middleware = ["tests.timetodo.test_handler.RecordingMiddleware"]
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=middleware, REQUEST_THREADS=1):
        built = OneHopASGIHandler()
        try:
            yield built
        finally:
            release.set()
            built.executor.shutdown(wait=True)
            built.probes.shutdown(wait=True)
            signals.request_started.disconnect(started)
            signals.request_finished.disconnect(finished)


def scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


async def request(app: Any, path: str, *, body: list[bytes] | None = None) -> tuple[int, bytes]:
    communicator = ApplicationCommunicator(app, scope(path, "POST" if body else "GET"))
    chunks = body or [b""]
    for n, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1})
    start = await communicator.receive_output(timeout=5)
    assert start["type"] == "http.response.start"
    content = b""
    while True:
        message = await communicator.receive_output(timeout=5)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=5)
    return start["status"], content


async def closed() -> None:
    """Until the response was closed: a streaming one is closed in the pool, after the app returned."""
    for _ in range(100):
        if "finished" in [what for what, _ in seen]:
            return
        await asyncio.sleep(0.05)


async def test_the_whole_request_runs_in_one_kept_thread_off_the_event_loop(handler: OneHopASGIHandler) -> None:
    status, _ = await request(handler, "/thread")
    status_again, _ = await request(handler, "/thread")
    assert (status, status_again) == (200, 200)
    threads = {ident for _, ident in seen}
    assert len(threads) == 1  # both requests, signals, middleware and view: one thread, kept
    assert threading.get_ident() not in threads  # never the event loop's
    assert [what for what, _ in seen] == ["started", "middleware", "view", "finished"] * 2


async def test_a_body_sent_in_parts_reaches_the_view_whole(handler: OneHopASGIHandler) -> None:
    status, content = await request(handler, "/thread", body=[b"one ", b"two ", b"three"])
    assert status == 200
    assert b'"body": "one two three"' in content


async def test_the_database_connection_goes_back_before_the_next_request(handler: OneHopASGIHandler) -> None:
    status, content = await request(handler, "/database")
    assert (status, content) == (200, b'{"connected": true}')
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip("an in-memory SQLite database is never closed")
    # The same (only) thread serves the next request: request_finished closed its
    # connection (with a pool: gave it back), so none is left open.
    status, content = await request(handler, "/connection")
    assert (status, content) == (200, b'{"connected": false}')


async def test_a_streaming_response_is_sent_whole_then_closed(handler: OneHopASGIHandler) -> None:
    status, content = await request(handler, "/stream")
    assert (status, content) == (200, b"part 0;part 1;part 2;")
    await closed()
    order = [what for what, _ in seen]
    assert order == ["started", "middleware", "part 0", "part 1", "part 2", "stream closed", "finished"]


async def test_an_error_in_a_view_is_a_500_and_the_next_request_is_served(handler: OneHopASGIHandler) -> None:
    status, _ = await request(handler, "/boom")
    assert status == 500
    assert [what for what, _ in seen][-1] == "finished"
    status, _ = await request(handler, "/thread")
    assert status == 200


async def test_requests_are_served_side_by_side_up_to_the_thread_count() -> None:
    # Two threads: a request waiting in one does not hold up the other.
    release.clear()
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], REQUEST_THREADS=2):
        app = OneHopASGIHandler()
        try:
            waiting = asyncio.ensure_future(request(app, "/wait"))
            status, _ = await request(app, "/thread")  # served while /wait still waits
            assert status == 200
            assert not waiting.done()
            release.set()
            assert await waiting == (200, b"waited")
        finally:
            release.set()
            app.executor.shutdown(wait=True)
            app.probes.shutdown(wait=True)


async def test_the_liveness_probe_is_answered_while_every_request_thread_is_busy(
    handler: OneHopASGIHandler,
) -> None:
    # (REQUEST_THREADS=1: /wait takes the only request thread, as a request waiting on a
    # database that went away would.)
    waiting = asyncio.ensure_future(request(handler, "/wait"))
    await asyncio.sleep(0.2)
    assert await request(handler, "/health") == (200, b"alive")
    assert not waiting.done()
    release.set()
    assert await waiting == (200, b"waited")


async def test_a_stream_is_read_no_further_once_its_client_has_gone(handler: OneHopASGIHandler) -> None:
    communicator = ApplicationCommunicator(handler, scope("/long"))
    await communicator.send_input({"type": "http.request", "body": b""})
    assert (await communicator.receive_output(timeout=5))["type"] == "http.response.start"
    await communicator.receive_output(timeout=5)
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(timeout=5)
    await closed()
    parts = [what for what, _ in seen if what.startswith("part")]
    assert len(parts) < 1000
    assert [what for what, _ in seen][-2:] == ["stream closed", "finished"]


async def test_a_streams_parts_are_read_in_the_context_its_view_left(handler: OneHopASGIHandler) -> None:
    status, content = await request(handler, "/long")
    assert (status, len(content)) == (200, 1000 * 1000)
    parts = [what for what, _ in seen if what.startswith("part")]
    assert parts[0] == "part 0 by the view"
    assert parts[-1] == "part 999 by the view"


async def test_a_request_the_server_gave_up_on_is_finished_and_closed_by_its_thread(
    handler: OneHopASGIHandler,
) -> None:
    # Daphne cancels an application whose client left long ago: the view's thread cannot
    # be stopped, and what it returns is still closed (its files, request_finished).
    communicator = ApplicationCommunicator(handler, scope("/slow"))
    await communicator.send_input({"type": "http.request", "body": b""})
    await asyncio.sleep(0.2)
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    release.set()
    await closed()
    assert [what for what, _ in seen][-2:] == ["stream closed", "finished"]


async def test_a_failing_request_finished_receiver_is_logged_and_the_answer_still_sent(
    handler: OneHopASGIHandler, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(**kwargs: Any) -> None:
        raise RuntimeError("receiver broke")

    signals.request_finished.connect(failing)
    try:
        with caplog.at_level(logging.ERROR, logger="timetodo.handler"):
            status, content = await request(handler, "/thread")
    finally:
        signals.request_finished.disconnect(failing)
    assert status == 200
    assert b'"thread"' in content
    assert "closing a response failed" in caplog.text


async def test_the_served_application_uses_this_handler() -> None:
    from timetodo.asgi import django_asgi_app

    assert isinstance(django_asgi_app, OneHopASGIHandler)


async def test_a_streaming_response_is_read_a_part_at_a_time_as_it_is_sent(handler: OneHopASGIHandler) -> None:
    communicator = ApplicationCommunicator(handler, scope("/stream"))
    await communicator.send_input({"type": "http.request", "body": b""})
    assert (await communicator.receive_output(timeout=5))["type"] == "http.response.start"
    first = await communicator.receive_output(timeout=5)
    assert first["body"] == b"part 0;"
    # Django's own handler would have read every part before sending the first.
    assert "part 2" not in [what for what, _ in seen]
    while (await communicator.receive_output(timeout=5)).get("more_body"):
        pass
    await communicator.wait(timeout=5)
    await closed()
    assert [what for what, _ in seen][-2:] == ["stream closed", "finished"]
