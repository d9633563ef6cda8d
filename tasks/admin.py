import re
from collections import Counter
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest

from tasks.models import (
    Activity,
    Attachment,
    Column,
    Comment,
    Label,
    Membership,
    Project,
    ProjectStatus,
    Sprint,
    Task,
    TimeEntry,
)
from tasks.services.attachments import remove_files_after_commit


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows operators may read but not write: they change only through the services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    """Members and their roles; add members on the Memberships page (a user picker per row
    would cost a query per row)."""

    model = Membership
    extra = 0
    fields = ["user", "role", "joined_at"]
    readonly_fields = ["user", "joined_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user", "project")


class ColumnInline(admin.TabularInline):
    model = Column
    extra = 0
    fields = ["name", "position", "wip_limit", "is_done"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "joined_at"]
    list_filter = ["role"]
    list_select_related = ["project", "user"]
    search_fields = ["project__key", "user__username", "user__email"]
    raw_id_fields = ["project", "user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "status", "owner", "last_seq", "created_at"]
    list_filter = ["status"]
    search_fields = ["key", "name", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = ["last_seq", "task_counter", "created_at", "updated_at"]
    autocomplete_fields = ["owner"]
    inlines = [MembershipInline, ColumnInline]
    actions = ["archive_projects"]

    @admin.action(description="Archive selected projects", permissions=["change"])
    def archive_projects(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        count = queryset.exclude(status=ProjectStatus.ARCHIVED).update(status=ProjectStatus.ARCHIVED)
        self.message_user(request, f"Archived {count} project(s).", messages.SUCCESS)


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    fields = ["author", "body", "edited", "created_at"]
    readonly_fields = ["author", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Comment]:
        return super().get_queryset(request).select_related("author")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["task_key", "title", "project", "column", "priority", "assignee", "is_done", "updated_at"]
    list_filter = [
        "project",
        ("column", admin.RelatedOnlyFieldListFilter),
        "priority",
        "is_done",
        ("assignee", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["title", "project__key", "number"]
    list_select_related = ["project", "column", "assignee"]
    readonly_fields = [
        "number",
        "position",
        "creator",
        "is_done",
        "completed_at",
        "version",
        "spent_minutes",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["assignee", "parent", "column", "sprint"]
    inlines = [CommentInline]

    @admin.display(description="key", ordering="number")
    def task_key(self, task: Task) -> str:
        return task.key

    # Deleting here cascades to the attachments' rows: their stored files go after the commit.
    # (A project with tasks cannot be deleted here at all: its tasks protect its columns.)
    def delete_model(self, request: HttpRequest, obj: Task) -> None:
        remove_files_after_commit(Attachment.objects.filter(task=obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        remove_files_after_commit(Attachment.objects.filter(task__in=queryset))
        super().delete_queryset(request, queryset)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Task], search_term: str
    ) -> tuple[QuerySet[Task], bool]:
        # "TTD-12" finds task 12 of project TTD.
        key, dash, number = search_term.strip().rpartition("-")
        if dash and key and re.fullmatch(r"[0-9]{1,9}", number):
            return queryset.filter(project__key__iexact=key, number=int(number)), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "position", "wip_limit", "is_done"]
    list_filter = ["is_done"]
    list_select_related = ["project"]
    search_fields = ["name", "project__key"]
    raw_id_fields = ["project"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["task", "author", "edited", "created_at"]
    list_filter = ["edited"]
    list_select_related = ["task__project", "author"]
    search_fields = ["body", "author__username", "task__title"]
    raw_id_fields = ["task", "author"]


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyAdmin):
    """Entries change through the API, which keeps task totals and the activity log right."""

    list_display = ["task", "user", "started_at", "ended_at", "minutes"]
    list_filter = [("user", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["task__project", "user"]
    search_fields = ["task__title", "user__username", "note"]
    raw_id_fields = ["task", "user"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "color", "project"]
    list_select_related = ["project"]
    search_fields = ["name", "project__key"]


@admin.register(Sprint)
class SprintAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "status", "start_date", "end_date"]
    list_filter = ["status"]
    list_select_related = ["project"]
    search_fields = ["name", "project__key"]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    """Files are added through the API. Operators may delete one (or a task or project
    with its files): the stored files go after the commit and the task's count follows."""

    list_display = ["filename", "task", "uploader", "content_type", "size", "created_at"]
    list_select_related = ["task__project", "uploader"]
    search_fields = ["filename", "task__title", "sha256"]
    raw_id_fields = ["task", "uploader", "project"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("tasks.delete_attachment"))

    def delete_model(self, request: HttpRequest, obj: Attachment) -> None:
        self.delete_queryset(request, Attachment.objects.filter(pk=obj.pk))

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Attachment]) -> None:
        per_task = Counter(queryset.values_list("task_id", flat=True))
        remove_files_after_commit(queryset)
        queryset.delete()
        for task_id, count in per_task.items():
            Task.objects.filter(pk=task_id).update(attachment_count=F("attachment_count") - count)


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    """The log is history: operators read it, nobody edits it."""

    list_display = ["project", "seq", "verb", "actor", "target_type", "target_id", "created_at"]
    list_filter = ["verb"]
    list_select_related = ["project", "actor"]
    search_fields = ["project__key", "target_id"]
