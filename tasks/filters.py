"""The query-string filters of the list endpoints, one FilterSet each (django-filter).

Selectors apply them (`filters=` the request's query parameters), so a list is scoped and
filtered in one place; a value that does not parse is a 400 naming the parameter. The
list views name the same FilterSet for the OpenAPI schema only (`SchemaFilterBackend`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import django_filters
from django.db.models import F, Model, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend

from accounts.models import User
from tasks.models import Priority, Project, ProjectStatus, Task, TimeEntry
from timetodo.errors import Invalid

M = TypeVar("M", bound=Model)


# As the API's own fields word them (DRF), and dates in the contract's one format only.
UUID_ERRORS = {"invalid": "Must be a valid UUID."}
DATE_FORMATS = ["%Y-%m-%d"]
DATE_ERRORS = {"invalid": "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."}


class IdOrKeywordFilter(django_filters.CharFilter):
    """An id, or the keyword `none` (unset) and, where allowed, `me` (the caller)."""

    def __init__(self, *args: Any, allow_me: bool = False, allow_none: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_me = allow_me
        self.allow_none = allow_none

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in (None, ""):
            return qs
        if value == "none" and self.allow_none:
            return qs.filter(**{f"{self.field_name}__isnull": True})
        if value == "me" and self.allow_me:
            return qs.filter(**{self.field_name: self.parent.user.pk})
        try:
            return qs.filter(**{self.field_name: uuid.UUID(value)})
        except ValueError:
            keywords = [word for word, allowed in (("me", self.allow_me), ("none", self.allow_none)) if allowed]
            accepted = "an id" + "".join(f", '{word}'" for word in keywords[:-1])
            accepted += f" or '{keywords[-1]}'" if keywords else ""
            raise Invalid({self.parent.parameter_of(self): [f"Use {accepted}."]}) from None


class NullsLastOrdering(django_filters.OrderingFilter):
    """Orders with empty values last either way, and by id last, so pages are stable."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        expressions = []
        for param in value:
            name = self.get_ordering_value(param)
            field = F(name.lstrip("-"))
            expressions.append(field.desc(nulls_last=True) if name.startswith("-") else field.asc(nulls_last=True))
        return qs.order_by(*expressions, "id")


class CallerFilterSet(django_filters.FilterSet):
    """A FilterSet that knows who asks (for `me`)."""

    def __init__(self, data: Mapping[str, Any] | None, queryset: QuerySet[Any], *, user: User) -> None:
        super().__init__(data, queryset)
        self.user = user

    def parameter_of(self, wanted: django_filters.Filter) -> str:
        """The query parameter a filter reads (errors name it, not the model field)."""
        return next(name for name, candidate in self.filters.items() if candidate is wanted)


class TaskFilter(CallerFilterSet):
    project = django_filters.UUIDFilter(field_name="project_id")
    column = django_filters.UUIDFilter(field_name="column_id")
    assignee = IdOrKeywordFilter(field_name="assignee", allow_me=True)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    label = IdOrKeywordFilter(field_name="labels")
    sprint = IdOrKeywordFilter(field_name="sprint")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte", input_formats=DATE_FORMATS)
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte", input_formats=DATE_FORMATS)
    is_done = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_is_done")
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    ordering = NullsLastOrdering(
        fields=(
            ("position", "position"),
            ("number", "number"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("due_date", "due_date"),
            ("priority_rank", "priority"),
        )
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_is_done(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        return queryset.filter(is_done=value == "true")

    def filter_search(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        for word in value.split()[:10]:
            queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
        return queryset


class TimeEntryFilter(CallerFilterSet):
    project = django_filters.UUIDFilter(field_name="task__project_id", error_messages=UUID_ERRORS)
    task = django_filters.UUIDFilter(field_name="task_id", error_messages=UUID_ERRORS)
    user = IdOrKeywordFilter(field_name="user_id", allow_me=True, allow_none=False, help_text="A user id or `me`.")

    class Meta:
        model = TimeEntry
        fields: list[str] = []


# `from` and `to` are Python keywords: declared here rather than as class attributes.
TimeEntryFilter.base_filters["from"] = django_filters.DateFilter(
    field_name="started_at",
    lookup_expr="date__gte",
    input_formats=DATE_FORMATS,
    error_messages=DATE_ERRORS,
    help_text="YYYY-MM-DD, inclusive (by start, UTC).",
)
TimeEntryFilter.base_filters["to"] = django_filters.DateFilter(
    field_name="started_at",
    lookup_expr="date__lte",
    input_formats=DATE_FORMATS,
    error_messages=DATE_ERRORS,
    help_text="YYYY-MM-DD, inclusive.",
)


class ProjectFilter(CallerFilterSet):
    status = django_filters.ChoiceFilter(
        choices=ProjectStatus.choices,
        error_messages={"invalid_choice": "Use active, on_hold, completed or archived."},
    )

    class Meta:
        model = Project
        fields: list[str] = []


def apply(
    filterset_class: type[CallerFilterSet], queryset: QuerySet[M], filters: Mapping[str, Any] | None, *, user: User
) -> QuerySet[M]:
    """`queryset` narrowed by the filters given; Invalid naming each parameter that does
    not parse. No filters, no work."""
    if not filters:
        return queryset
    filterset = filterset_class(filters, queryset, user=user)
    if not filterset.is_valid():
        raise Invalid({name: [str(message) for message in messages] for name, messages in filterset.errors.items()})
    return filterset.qs


class SchemaFilterBackend(DjangoFilterBackend):
    """Describes a view's `filterset_class` in the OpenAPI schema and filters nothing
    itself: the view's selector applies the same FilterSet (see `apply`)."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        return queryset
