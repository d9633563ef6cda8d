"""OPTIONS answers for the API (DRF metadata)."""

from __future__ import annotations

from typing import Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request


class Metadata(SimpleMetadata):
    """DRF's metadata, also for views that declare no serializer class.

    SimpleMetadata describes the POST/PUT input by instantiating the view's serializer;
    an action view without one (transfer, start, stop...) made OPTIONS a 500.
    """

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        try:
            view.get_serializer_class()
        except (AttributeError, AssertionError):
            return {}
        return super().determine_actions(request, view)
