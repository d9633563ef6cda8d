from collections.abc import Callable
from typing import Any

from django.core.paginator import InvalidPage, Page
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request

MAX_OFFSET = 2**62  # below every database's largest OFFSET


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M`: 50 by default, at most 200 (docs/api.md "General").

    A page size that is not a whole number from 1 to 200 is a 400, not silently changed.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw: Any = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        if not str(raw).isascii() or not str(raw).isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def paginate_read(self, request: Request, read: Callable[[int, int], tuple[list[Any], int]]) -> list[Any] | None:
        """A page from `read(limit, offset)` -> (rows, the count of all rows), which reads both
        in one query: the same pages, links and 404s as `paginate_queryset`. None for a page
        named `last` (its offset needs the count first): paginate the queryset instead."""
        size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param) or 1
        if raw in self.last_page_strings:
            return None
        paginator = self.django_paginator_class([], size)
        try:
            number = int(raw)
        except (TypeError, ValueError):
            number = 0  # (Django's paginator words it)
        if number >= 1:
            # A page far past the end still reads as past the end, never as an overflow.
            rows, paginator.__dict__["count"] = read(size, min((number - 1) * size, MAX_OFFSET))
        else:
            rows = []
        try:
            valid = paginator.validate_number(raw if number < 1 else number)
        except InvalidPage as exc:
            raise NotFound(self.invalid_page_message.format(page_number=raw, message=str(exc))) from exc
        self.page = Page(rows, valid, paginator)
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        self.request = request
        return rows

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """The bounds the API enforces, so that clients (and schema fuzzers) know them."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters
