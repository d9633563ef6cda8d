"""Seed the benchmark database: one project, 4 columns, N tasks with assignees and labels.

Prints one JSON line: {"project", "columns", "tasks", "token"}. Run by bench/run.py.
"""

from __future__ import annotations

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timetodo.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
django.setup()

from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

from accounts.models import User  # noqa: E402
from tasks.models import Column, Label, Membership, Project, Task  # noqa: E402
from tasks.positions import GAP  # noqa: E402
from tasks.services.projects import project_create  # noqa: E402


def main(count: int) -> None:
    owner = User.objects.create_user(username="bench", email="bench@example.com", password="bench-password-123")
    people = [
        User.objects.create_user(username=f"dev{n}", email=f"dev{n}@example.com", password="bench-password-123")
        for n in range(10)
    ]
    project = project_create(actor=owner, name="Benchmark", key="BENCH")
    Membership.objects.bulk_create(Membership(project=project, user=user, role="member") for user in people)
    columns = list(Column.objects.filter(project=project).order_by("position"))
    labels = [Label.objects.create(project=project, name=f"label{n}", color="#336699") for n in range(5)]
    tasks = []
    for n in range(count):
        column = columns[n % len(columns)]
        tasks.append(
            Task(
                project=project,
                number=n + 1,
                title=f"Task {n + 1}: something to do",
                description="A realistic description of a piece of work. " * 4,
                column=column,
                position=(n // len(columns) + 1) * GAP,
                priority=["none", "low", "medium", "high", "urgent"][n % 5],
                assignee=people[n % len(people)],
                creator=owner,
                story_points=n % 8,
                is_done=column.is_done,
            )
        )
    Task.objects.bulk_create(tasks, batch_size=500)
    Project.objects.filter(pk=project.pk).update(task_counter=count)
    through = Task.labels.through
    through.objects.bulk_create(
        through(task_id=task.pk, label_id=labels[i % len(labels)].pk) for i, task in enumerate(tasks)
    )
    print(
        json.dumps(
            {
                "project": str(project.pk),
                "columns": [str(c.pk) for c in columns],
                "tasks": [str(t.pk) for t in tasks],
                "token": str(RefreshToken.for_user(owner).access_token),
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
