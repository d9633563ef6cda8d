"""JSON responses through orjson: the same bytes as DRF's JSONRenderer, several times faster
on the large bodies (boards, lists) that dominate the API's rendering time.

DRF writes compact UTF-8 (`{"a":1}`, non-ASCII as itself) and escapes U+2028 and U+2029
for JavaScript; dates and times go through its encoder (`…Z` for UTC, microseconds cut as
ECMA-262 wants), as do decimals, lazy strings and anything else orjson would write its own
way. A client that asks for indentation (`Accept: application/json; indent=4`) gets DRF's
renderer itself, and so does data orjson refuses (an integer beyond 64 bits, say).
`tests/timetodo/test_renderers.py` holds the two byte for byte equal.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

# orjson hands these to `default` (DRF's encoder) instead of writing them its own way.
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class FastJSONRenderer(JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is not None:
            return bytes(super().render(data, accepted_media_type, renderer_context))
        try:
            rendered = orjson.dumps(data, default=_encoder.default, option=OPTIONS)
        except TypeError:  # what orjson cannot write at all: DRF's way, with its errors
            return bytes(super().render(data, accepted_media_type, renderer_context))
        if b"\xe2\x80\xa8" in rendered or b"\xe2\x80\xa9" in rendered:
            rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return rendered


# What DRF's encoder makes of a value JSON has no type for (dates and times, decimals, lazy
# strings, dataclasses...) is what orjson writes for it.
_encoder = JSONEncoder(ensure_ascii=False, allow_nan=False)
