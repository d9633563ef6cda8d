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
whole into memory first), sent as it is read, and closed after it is sent, as Django does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
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


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(max_workers=settings.REQUEST_THREADS, thread_name_prefix="request")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self.respond, thread_sensitive=False, executor=self.executor)(
                scope, body_file
            )
            if response.streaming and not response.is_async:  # type: ignore[attr-defined]
                parts = response.streaming_content  # type: ignore[attr-defined]
                response.streaming_content = self._read_in_pool(iter(parts))  # type: ignore[attr-defined]
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    await sync_to_async(response.close, thread_sensitive=False, executor=self.executor)()
        finally:
            body_file.close()

    async def _read_in_pool(self, parts: Iterator[bytes]) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        while (part := await loop.run_in_executor(self.executor, next, parts, None)) is not None:
            yield part

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
        else:
            response.close()  # the content is built: request_finished, connections back
        return response
