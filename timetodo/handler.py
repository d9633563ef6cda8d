"""Django's ASGI handler, with each request served in one hop to a kept thread.

Django's own handler (measured on the 304 revalidation, the cheapest API request, with
py-spy on a Daphne process under load) spends most of a request's CPU on the way to the
view, not in it:
- it loads the middleware in async mode, so every sync-only middleware (ours,
  WhiteNoise's) runs behind an async-to-sync bridge and every `MiddlewareMixin` one
  (Django's, django-prometheus') runs each `process_request`/`process_response` in its
  own sync-to-async hop: some twenty hops between the event loop and a thread, for
  middleware and views that are all synchronous;
- it sends `request_started`/`request_finished` with `Signal.asend`, an asyncio task per
  receiver (a fifth of the 304's CPU);
- it starts a new thread for every request (a `ThreadSensitiveContext` per request), and
  with it a new database connection wrapper.

Here the middleware chain is loaded in sync mode, and the whole request (the started
signal, the middleware, the view, and for an ordinary response the finished signal, which
gives the database connection back to the pool) runs in one call to a thread of a kept
pool of `REQUEST_THREADS` threads. Everything of one request still runs in one thread, so
its database connection and transaction are its own, as before. Only the reading of the
body and the sending of the response stay on the event loop. A streaming response (a
file) is read a part at a time in the pool (Django's handler reads a synchronous one
whole into memory first), sent as it is read, no further once the client has gone, and
closed after it is sent, as Django does. The liveness probe has two threads of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from timetodo.uploads import MULTIPART_OVERHEAD_BYTES, too_large

logger = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


def declared_length(scope: dict[str, Any]) -> int | None:
    """The request's Content-Length, None without one (a malformed one counts as 0: Django
    refuses it later)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else 0
    return None


# The liveness probe (the container's HEALTHCHECK, Render's health check) has threads of its
# own: requests waiting on a database that went away must not make a live process look dead.
PROBE_PATHS = frozenset({"/health", "/health/"})
PROBE_THREADS = 2


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(max_workers=settings.REQUEST_THREADS, thread_name_prefix="request")
        self.probes = ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="probe")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        limit = settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await self.refuse_too_large(send)  # (before a byte of the body is read)
            return
        try:
            body_file, received = await self.read_limited_body(receive, limit)
        except RequestAborted:
            return
        except BodyTooLarge:
            await self.refuse_too_large(send)
            return
        if declared is None and received:
            # A body sent without a length (chunked): Django's parsers read CONTENT_LENGTH.
            scope = {**scope, "headers": [*scope.get("headers", ()), (b"content-length", str(received).encode())]}
        executor = self.probes if scope["path"] in PROBE_PATHS else self.executor
        responding = asyncio.ensure_future(
            sync_to_async(self.respond, thread_sensitive=False, executor=executor)(scope, body_file)
        )
        try:
            # Shielded: if the server gives up on the request (its client left), the thread
            # still finishes it, and what it made is closed then (_abandoned).
            response = await asyncio.shield(responding)
        except asyncio.CancelledError:
            responding.add_done_callback(partial(self._abandoned, body_file))
            raise
        except BaseException:
            body_file.close()
            raise
        try:
            if response.streaming:
                await self._send_streaming(response, receive, send, executor)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()
            if response.streaming:
                self._close_soon(response, executor)

    async def read_limited_body(self, receive: Any, limit: int) -> tuple[Any, int]:
        """Django's read_body, stopping once the body passes `limit` bytes (one sent
        without a Content-Length, or longer than it said); the body and its length."""
        body_file = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")  # noqa: SIM115 (returned open)
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            if "body" in message:
                received += len(message["body"])
                if received > limit:
                    body_file.close()
                    raise BodyTooLarge
                body_file.write(message["body"])
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file, received

    @staticmethod
    async def refuse_too_large(send: Any) -> None:
        body = json.dumps({"detail": too_large().detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _send_streaming(self, response: Any, receive: Any, send: Any, executor: ThreadPoolExecutor) -> None:
        """Send a streaming response as it is read; stop reading once the client is gone."""
        gone = asyncio.Event()

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        listener = asyncio.ensure_future(listen())
        try:
            if not response.is_async:
                parts = iter(response.streaming_content)
                context = response.timetodo_context
                response.streaming_content = self._read_in_pool(parts, context, gone, executor)
            await self.send_response(response, send)
        finally:
            listener.cancel()

    @staticmethod
    async def _read_in_pool(
        parts: Iterator[bytes], context: contextvars.Context, gone: asyncio.Event, executor: ThreadPoolExecutor
    ) -> AsyncIterator[bytes]:
        # A part at a time, in the context the view left (urlconf, script prefix, its own
        # variables), though not always in its thread: an iterator must not use the database.
        loop = asyncio.get_running_loop()
        while not gone.is_set():
            part: bytes | None = await loop.run_in_executor(executor, context.run, next, parts, None)  # type: ignore[arg-type]
            if part is None:
                return
            yield part

    def _abandoned(self, body_file: Any, responding: asyncio.Future[HttpResponseBase]) -> None:
        body_file.close()
        if not responding.cancelled() and responding.exception() is None and responding.result().streaming:
            self._close_soon(responding.result(), self.executor)

    def _close_soon(self, response: HttpResponseBase, executor: ThreadPoolExecutor) -> None:
        """Close in the pool, not awaited: a cancellation from now on cannot skip it."""
        try:
            executor.submit(self._close, response)
        except RuntimeError:  # the pool is shut down: the process is exiting
            self._close(response)

    @staticmethod
    def _close(response: HttpResponseBase) -> None:
        """Close a response (its files; request_finished: connections back to the pool).
        The response is built and may be sent already: a failing receiver is logged, not
        turned into an error answer (a client retrying a committed write would repeat it)."""
        try:
            response.close()
        except Exception:
            logger.exception("closing a response failed")

    def respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """The request, in a thread of the pool: what Django's handler does between reading
        the body and sending the response, in the same order."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, refused = self.create_request(scope, body_file)
        response: HttpResponseBase
        if request is None:
            response = cast(HttpResponseBase, refused)  # (an undecodable or too large request)
        else:
            response = self.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # (the server chunks the sending)
        if response.streaming:
            # Sent, then closed, from the event loop; this thread's database connection
            # goes back to the pool now (a file's bytes need none).
            close_old_connections()
            response.timetodo_context = contextvars.copy_context()  # type: ignore[attr-defined]
        else:
            self._close(response)  # the content is built: request_finished, connections back
        return response
