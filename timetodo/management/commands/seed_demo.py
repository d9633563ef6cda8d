"""`manage.py seed_demo`: a demo project to look at, created once (running it again changes nothing)."""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from tasks.models import Column, Membership, Project
from tasks.services.boards import label_create
from tasks.services.comments import comment_create
from tasks.services.members import member_add
from tasks.services.projects import project_create
from tasks.services.sprints import sprint_complete, sprint_create, sprint_start
from tasks.services.tasks import task_create, task_move
from tasks.services.time import time_entry_create

DEMO_KEY = "DEMO"
LOCAL_PASSWORD = "timetodo-demo-2026"  # noqa: S105 (documented; only with DEBUG on, i.e. `dev.py start`)
PEOPLE = [
    ("ada", "Ada Lovelace", "owner"),
    ("grace", "Grace Hopper", "admin"),
    ("linus", "Linus Torvalds", "member"),
    ("margaret", "Margaret Hamilton", "viewer"),
]
DESCRIPTIONS = {
    0: "Columns with WIP limits, cards with key, title and labels.\nThe mock-ups: https://example.com/board-sketch",
    2: "PostgreSQL 16 with daily backups.\nRunbook: docs/operations.md",
}
DUE_IN_DAYS = {0: 5, 2: -1, 3: 9}  # one of them is overdue
TASKS = [
    ("Sketch the board layout", "high", 0, "ui"),
    ("Write the onboarding email", "medium", 0, "docs"),
    ("Set up the staging database", "urgent", 1, "ops"),
    ("Review the login flow", "high", 2, "ui"),
    ("Publish the API docs", "low", 3, "docs"),
    ("Load-test the live board", "medium", 1, "ops"),
]


class Command(BaseCommand):
    help = "Create demo users, a project with columns, labels, tasks and comments. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="Password for every demo user (default: see the output).")

    def handle(self, *args: Any, **options: Any) -> None:
        if Project.objects.filter(key=DEMO_KEY).exists():
            self.stdout.write("The demo project already exists; nothing changed.")
            if settings.DEBUG and not options["password"]:
                self.stdout.write(f"Log in as demo-ada with password {LOCAL_PASSWORD} (unless you changed it).")
            return
        password = options["password"] or (LOCAL_PASSWORD if settings.DEBUG else secrets.token_urlsafe(12))
        with transaction.atomic():
            users = self.people(password)
            self.project(users)
        self.stdout.write(self.style.SUCCESS("Demo created: project DEMO with 6 tasks and two sprints."))
        self.stdout.write(f"Log in as any of {', '.join(u.username for u in users.values())} with password: {password}")
        if password != LOCAL_PASSWORD:
            self.stdout.write("(shown only now; change it with POST /api/v1/auth/password/)")

    def people(self, password: str) -> dict[str, User]:
        users = {}
        for username, full_name, _ in PEOPLE:
            user = User.objects.filter(username=f"demo-{username}").first()
            if user is None:
                user = User.objects.create_user(
                    username=f"demo-{username}", email=f"{username}@demo.timetodo.local", password=password
                )
            else:  # left from an earlier demo: the password printed below must work
                user.set_password(password)
            user.full_name, user.is_active = full_name, True
            user.save()
            users[username] = user
        return users

    def project(self, users: dict[str, User]) -> None:
        owner = users["ada"]
        project = project_create(
            actor=owner, name="Demo: launch Time to DO", key=DEMO_KEY, description="A project to look around in."
        )
        for username, _, role in PEOPLE[1:]:
            if not Membership.objects.filter(project=project, user=users[username]).exists():
                member_add(
                    actor=owner,
                    project_id=project.pk,
                    email=None,
                    user_id=users[username].pk,
                    role=role,
                )
        labels = {
            name: label_create(actor=owner, project_id=project.pk, name=name, color=color)
            for name, color in (("ui", "#3b82f6"), ("docs", "#10b981"), ("ops", "#f59e0b"))
        }
        columns = list(Column.objects.filter(project=project).order_by("position"))
        today = timezone.localdate()
        first = sprint_create(
            actor=owner,
            project_id=project.pk,
            values={
                "name": "Sprint 1: foundations",
                "start_date": today - datetime.timedelta(days=14),
                "end_date": today - datetime.timedelta(days=1),
            },
        )
        second = sprint_create(
            actor=owner,
            project_id=project.pk,
            values={
                "name": "Sprint 2: launch",
                "goal": "Everyone on the team uses the live board.",
                "start_date": today,
                "end_date": today + datetime.timedelta(days=13),
            },
        )
        tasks = []
        for n, (title, priority, column, label) in enumerate(TASKS):
            task = task_create(
                actor=users["grace"] if n % 2 else owner,
                project_id=project.pk,
                values={
                    "title": title,
                    "priority": priority,
                    "labels": [labels[label].pk],
                    "assignee": users[PEOPLE[n % 3][0]].pk,
                    "story_points": (n % 5) + 1,
                    "description": DESCRIPTIONS.get(n, ""),
                    "due_date": today + datetime.timedelta(days=DUE_IN_DAYS[n]) if n in DUE_IN_DAYS else None,
                    "sprint": (first if n in (2, 4) else second).pk,
                },
            ).task
            if column:
                task_move(actor=owner, task_id=task.pk, column_id=columns[column].pk)
            if n < 3:
                comment_create(actor=users["linus"], task=task, body="Looks good, I can take a look this week.")
            tasks.append(task)
        # Sprint 1 is over (the staging database moved on to Sprint 2); Sprint 2 runs now.
        sprint_start(actor=owner, sprint_id=first.pk)
        sprint_complete(actor=owner, sprint_id=first.pk, move_open_tasks_to=second.pk)
        sprint_start(actor=owner, sprint_id=second.pk)
        now = timezone.now()
        for n, (username, minutes) in enumerate((("ada", 50), ("grace", 95), ("linus", 30), ("ada", 120))):
            time_entry_create(
                actor=users[username],
                task=tasks[n % 4],
                started_at=now - datetime.timedelta(days=n, hours=3),
                minutes=minutes,
                note="Demo time",
            )
