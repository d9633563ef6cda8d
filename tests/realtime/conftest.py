from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture
async def sockets() -> AsyncIterator[list[Any]]:
    """The test's open sockets (tests/realtime/test_consumer.py `Socket`), disconnected after it."""
    opened: list[Any] = []
    yield opened
    for socket in opened:
        await socket.communicator.disconnect()
