"""A minimal RFC 6455 client for the fan-out benchmark: hundreds of sockets in one process.

The `websockets` library spends ~150 µs of CPU per received frame on this machine; 500
sockets at 20 events/s would take most of a core from the server being measured. This
client parses unmasked server frames straight from the transport's buffer (text, ping,
close; no extensions are negotiated) and masks what it sends, as the RFC requires.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import Callable
from typing import Any

OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return head + mask + masked


class Socket(asyncio.Protocol):
    """One connection; `on_frame(frame)` gets every decoded JSON text frame."""

    def __init__(self, on_frame: Callable[[dict[str, Any]], None]) -> None:
        self.on_frame = on_frame
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.upgraded = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.frames: asyncio.Queue[dict[str, Any]] | None = None  # set while awaiting replies

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.upgraded.set_result(None)
        self.parse()

    def parse(self) -> None:
        buffer = self.buffer
        offset = 0
        while len(buffer) - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            length = second & 0x7F
            start = offset + 2
            if length == 126:
                if len(buffer) - start < 2:
                    break
                (length,) = struct.unpack_from("!H", buffer, start)
                start += 2
            elif length == 127:
                if len(buffer) - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            if len(buffer) - start < length:
                break
            payload = bytes(buffer[start : start + length])
            offset = start + length
            opcode = first & 0x0F
            if opcode == OP_TEXT:
                frame = json.loads(payload)
                if self.frames is not None:
                    self.frames.put_nowait(frame)
                self.on_frame(frame)
            elif opcode == OP_PING:
                self.send_raw(OP_PONG, payload)
            elif opcode == OP_CLOSE and self.transport is not None:
                self.transport.close()
        del buffer[:offset]

    def send_raw(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def send(self, frame: dict[str, Any]) -> None:
        self.send_raw(OP_TEXT, json.dumps(frame).encode())

    async def request(self, frame: dict[str, Any], until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Send a frame and wait (10 s at most) for the first reply that satisfies `until`."""
        self.frames = asyncio.Queue()
        try:
            self.send(frame)
            while True:
                reply = await asyncio.wait_for(self.frames.get(), 10)
                if until(reply):
                    return reply
        finally:
            self.frames = None

    def close(self) -> None:
        self.send_raw(OP_CLOSE, struct.pack("!H", 1000))
        if self.transport is not None:
            self.transport.close()


async def connect(port: int, on_frame: Callable[[dict[str, Any]], None]) -> Socket:
    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(lambda: Socket(on_frame), "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    assert socket.transport is not None
    socket.transport.write(
        (
            f"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
        ).encode()
    )
    await asyncio.wait_for(socket.upgraded, 10)
    return socket
