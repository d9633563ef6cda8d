"""The domain: projects, members, columns, labels, sprints, tasks, comments, activity."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

PROJECT_KEY_PATTERN = r"^[A-Z0-9]{2,10}\Z"
COLOR_PATTERN = r"^#[0-9a-fA-F]{6}\Z"
DESCRIPTION_MAX_LENGTH = 50_000
COMMENT_MAX_LENGTH = 20_000


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    ARCHIVED = "archived", "Archived"


class Priority(models.TextChoices):
    NONE = "none", "None"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {Priority.NONE: 0, Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3, Priority.URGENT: 4}


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    key = models.CharField(
        max_length=10,
        unique=True,
        validators=[RegexValidator(PROJECT_KEY_PATTERN, "2-10 uppercase letters or digits.")],
    )
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    status = models.CharField(max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    # Counters moved only by UPDATE ... SET x = x + 1 inside the writing transaction.
    last_seq = models.BigIntegerField(default=0, editable=False)
    task_counter = models.IntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(key__regex=PROJECT_KEY_PATTERN), name="project_key_format")
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.name}"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class Column(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    wip_limit = models.PositiveIntegerField(null=True, blank=True)
    is_done = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "created_at"]
        indexes = [models.Index(fields=["project", "position"])]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=50)
    color = models.CharField(max_length=7, validators=[RegexValidator(COLOR_PATTERN, "A color like #1a2b3c.")])

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("project", Lower("name"), name="label_name_unique_in_project")]

    def __str__(self) -> str:
        return self.name


class SprintStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"


class Sprint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sprints")
    name = models.CharField(max_length=100)
    goal = models.TextField(blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=SprintStatus.choices, default=SprintStatus.PLANNED)
    committed_points = models.PositiveIntegerField(null=True, blank=True)
    completed_points = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    number = models.PositiveIntegerField(editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    column = models.ForeignKey(Column, on_delete=models.PROTECT, related_name="tasks")
    # Ordering key within the column: gapped integers, so a move writes one row.
    position = models.BigIntegerField(editable=False)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NONE)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_tasks"
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="created_tasks", editable=False
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="tasks")
    story_points = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(1000)])
    estimate_minutes = models.PositiveIntegerField(null=True, blank=True)
    spent_minutes = models.PositiveIntegerField(default=0, editable=False)
    attachment_count = models.PositiveIntegerField(default=0, editable=False)  # (kept by the attachment services)
    due_date = models.DateField(null=True, blank=True)
    sprint = models.ForeignKey(Sprint, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks")
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="subtasks")
    is_done = models.BooleanField(default=False, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="task_number_unique_in_project"),
            models.UniqueConstraint(fields=["column", "position"], name="task_position_unique_in_column"),
        ]
        indexes = [
            models.Index(fields=["project", "column", "position"]),
            models.Index(fields=["assignee"]),
            models.Index(fields=["due_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"{self.project.key}-{self.number}"


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="comments")
    body = models.TextField(max_length=COMMENT_MAX_LENGTH)
    edited = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Comment by {self.author} on {self.task_id}"


def attachment_path(attachment: Attachment, _filename: str) -> str:
    """Where the bytes are stored: named by ids only, never by anything the client sent."""
    return f"attachments/{attachment.project_id}/{attachment.pk}"


class Attachment(models.Model):
    """A file on a task. `filename` is the uploader's name for it, made safe for display and
    for a download's Content-Disposition; `content_type` was sniffed from the bytes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="attachments")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="attachments"
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=attachment_path, max_length=255)
    thumbnail = models.FileField(max_length=255, blank=True, default="")  # made by the worker, for images
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"])]

    def __str__(self) -> str:
        return self.filename

    @property
    def download_url(self) -> str:
        return f"/api/v1/attachments/{self.pk}/download/"

    @property
    def thumbnail_url(self) -> str | None:
        return f"/api/v1/attachments/{self.pk}/thumbnail/" if self.thumbnail.name else None


class Activity(models.Model):
    """One change to a project's data; `seq` grows by exactly 1 per event within a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="activities")
    seq = models.BigIntegerField()
    # The shape of `data` (tasks.events.SCHEMA_VERSION when the row was written).
    schema_version = models.PositiveSmallIntegerField(default=1)
    verb = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    target_type = models.CharField(max_length=20)
    target_id = models.CharField(max_length=64)
    # The task an event concerns (the task itself or its comment), kept after the task is deleted.
    task_id = models.UUIDField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "activities"
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="activity_seq_unique_in_project")]
        indexes = [models.Index(fields=["project", "task_id", "seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.verb}"


class TimeEntry(models.Model):
    """Time a user spent on a task: finished (`ended_at` set) or a running timer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="time_entries")
    # A deleted user's time stays spent on the task (and in reports).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="time_entries"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # Whole minutes of a finished entry; a running one is counted up to now when read.
    minutes = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "time entries"
        constraints = [
            # Never two running timers for one user, whatever the concurrency.
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(ended_at__isnull=True), name="one_running_timer_per_user"
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gt=models.F("started_at")),
                name="time_entry_ends_after_it_starts",
            ),
        ]
        indexes = [models.Index(fields=["task", "started_at"]), models.Index(fields=["user", "started_at"])]

    def __str__(self) -> str:
        return f"{self.user} on {self.task_id}: {self.minutes} min"
