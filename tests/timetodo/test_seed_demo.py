"""`manage.py seed_demo` builds a demo once; running it again changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import User
from tasks.models import Activity, Comment, Label, Membership, Project, Sprint, Task, TimeEntry

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, Project, Membership, Label, Task, Comment, Activity, Sprint, TimeEntry)
    }


def test_seed_demo_is_idempotent(capsys) -> None:
    call_command("seed_demo", "--password", "demo-password-for-tests")
    first = snapshot()
    out = capsys.readouterr().out
    assert "demo-password-for-tests" in out
    assert first["Project"] == 1
    assert first["Task"] == 6
    assert first["Comment"] == 3
    assert first["Membership"] == 4
    project = Project.objects.get(key="DEMO")
    sprints = {s.name: s for s in Sprint.objects.filter(project=project)}
    assert {name: s.status for name, s in sprints.items()} == {
        "Sprint 1: foundations": "completed",
        "Sprint 2: launch": "active",
    }
    assert (sprints["Sprint 1: foundations"].committed_points, sprints["Sprint 1: foundations"].completed_points) == (
        8,
        5,
    )
    assert TimeEntry.objects.filter(task__project=project).count() == 4
    call_command("seed_demo")
    assert snapshot() == first
    assert "nothing changed" in capsys.readouterr().out
    demo = User.objects.get(username="demo-grace")
    assert demo.check_password("demo-password-for-tests")
    project = Project.objects.get(key="DEMO")
    assert list(Activity.objects.filter(project=project).order_by("seq").values_list("seq", flat=True)) == list(
        range(1, project.last_seq + 1)
    )


def test_seed_demo_rebuilds_a_deleted_demo_for_the_same_users(capsys) -> None:
    call_command("seed_demo", "--password", "first-password-123")
    Task.objects.filter(project__key="DEMO").delete()
    Project.objects.filter(key="DEMO").delete()
    User.objects.filter(username="demo-linus").update(is_active=False)
    call_command("seed_demo", "--password", "second-password-456")
    assert Project.objects.filter(key="DEMO").count() == 1
    assert User.objects.filter(username__startswith="demo-").count() == 4
    linus = User.objects.get(username="demo-linus")
    assert linus.is_active
    assert linus.check_password("second-password-456")
