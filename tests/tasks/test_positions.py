"""Gapped positions (tasks.positions), unit by unit: slots, renumbering, placing, done flags.

Rows are written straight to the database with chosen positions, so each case sets up
exactly the column it is about (the API tests in test_board.py cover the same end to end).
"""

from __future__ import annotations

import pytest

from tasks import positions
from tasks.models import Column, Task
from tasks.positions import GAP, Renumbered
from tests.helpers.teams import Team
from timetodo.errors import Conflict, Invalid

pytestmark = pytest.mark.django_db


def column_with(team: Team, *at: int, index: int = 0) -> tuple[Column, list[Task]]:
    """A column of the team's project holding tasks at the given positions, in that order."""
    column = team.columns[index]
    tasks = []
    for number, position in enumerate(at, start=Task.objects.count() + 1):
        tasks.append(
            Task.objects.create(
                project=team.project, number=number, title=f"t{number}", column=column, position=position
            )
        )
    return column, tasks


def order(column: Column) -> list[tuple[str, int]]:
    return list(Task.objects.filter(column=column).order_by("position").values_list("title", "position"))


def test_a_midpoint_lies_strictly_between_or_there_is_none() -> None:
    assert positions.midpoint(0, 2) == 1
    assert positions.midpoint(GAP, 2 * GAP) == GAP + GAP // 2
    assert positions.midpoint(5, 6) is None  # touching
    assert positions.midpoint(5, 5) is None
    assert positions.midpoint(-(2**62), 2**62) == 0


def test_appended_tasks_follow_each_other_a_gap_apart() -> None:
    assert positions.following_positions(3 * GAP, 3) == [3 * GAP, 4 * GAP, 5 * GAP]
    assert positions.following_positions(GAP, 0) == []


def test_the_end_of_a_column_is_a_gap_after_its_last_task(team: Team) -> None:
    empty = team.columns[1]
    assert positions.end_position(empty) == GAP
    column, _ = column_with(team, 7, 3 * GAP)
    assert positions.end_position(column) == 4 * GAP


def test_a_free_slot_is_the_midpoint_next_to_the_anchor(team: Team) -> None:
    column, (first, second, third) = column_with(team, GAP, 2 * GAP, 3 * GAP)
    mover = Task.objects.create(project=team.project, number=99, title="mover", column=team.columns[1], position=GAP)
    assert positions.free_slot(column, mover, before=second, after=None) == GAP + GAP // 2
    assert positions.free_slot(column, mover, before=None, after=second) == 2 * GAP + GAP // 2
    assert positions.free_slot(column, mover, before=first, after=None) == 0  # nothing below: a gap under
    assert positions.free_slot(column, mover, before=None, after=third) == 4 * GAP  # nothing above
    assert positions.free_slot(column, mover, before=None, after=None) == 4 * GAP  # the end


def test_the_moving_tasks_own_place_does_not_count_as_taken(team: Team) -> None:
    column, (first, second) = column_with(team, GAP, GAP + 1)
    # `second` touches `first`, but it is the one moving: the slot before `first` is free.
    assert positions.free_slot(column, second, before=None, after=first) == first.position + GAP


def test_touching_neighbours_leave_no_slot(team: Team) -> None:
    column, (first, second) = column_with(team, 10, 11)
    mover = Task.objects.create(project=team.project, number=99, title="m", column=team.columns[1], position=GAP)
    assert positions.free_slot(column, mover, before=second, after=None) is None
    assert positions.free_slot(column, mover, before=None, after=first) is None


def test_renumbering_spreads_a_column_a_gap_apart_in_the_same_order(team: Team) -> None:
    column, tasks = column_with(team, 5, 6, 2 * GAP, 9 * GAP)
    versions = {task.pk: task.version for task in tasks}
    moved = positions.renumber(column)
    assert order(column) == [("t1", GAP), ("t2", 2 * GAP), ("t3", 3 * GAP), ("t4", 4 * GAP)]
    assert moved == [
        Renumbered(tasks[0].pk, 5, GAP),
        Renumbered(tasks[1].pk, 6, 2 * GAP),
        Renumbered(tasks[2].pk, 2 * GAP, 3 * GAP),
        Renumbered(tasks[3].pk, 9 * GAP, 4 * GAP),
    ]
    after = dict(Task.objects.filter(column=column).values_list("pk", "version"))
    assert all(after[pk] == versions[pk] + 1 for pk in versions)


def test_renumbering_leaves_tasks_already_in_place_untouched(team: Team) -> None:
    column, tasks = column_with(team, GAP, 2 * GAP, 2 * GAP + 1)
    moved = positions.renumber(column)
    assert moved == [Renumbered(tasks[2].pk, 2 * GAP + 1, 3 * GAP)]
    versions = dict(Task.objects.filter(column=column).values_list("pk", "version"))
    assert (versions[tasks[0].pk], versions[tasks[1].pk], versions[tasks[2].pk]) == (1, 1, 2)


def test_placing_between_touching_neighbours_renumbers_then_fits(team: Team) -> None:
    column, (first, second) = column_with(team, 10, 11)
    mover = Task.objects.create(project=team.project, number=99, title="m", column=team.columns[1], position=GAP)
    renumbered = positions.place(mover, column, before=second)
    assert renumbered == [Renumbered(first.pk, 10, GAP), Renumbered(second.pk, 11, 2 * GAP)]
    assert mover.column_id == column.pk  # in memory: the caller saves it
    assert mover.position == GAP + GAP // 2
    mover.save(update_fields=["column", "position"])
    assert [title for title, _ in order(column)] == ["t1", "m", "t2"]


def test_placing_in_the_same_column_does_not_report_the_task_itself(team: Team) -> None:
    column, (first, _second, third) = column_with(team, 10, 11, 12)
    renumbered = positions.place(third, column, after=first)
    assert third.pk not in [entry.task_id for entry in renumbered]
    third.save(update_fields=["column", "position"])
    assert [title for title, _ in order(column)] == ["t1", "t3", "t2"]


def test_an_anchor_must_be_another_task_of_the_target_column(team: Team) -> None:
    column, (first,) = column_with(team, GAP)
    _, (elsewhere,) = column_with(team, GAP, index=1)
    assert positions.anchor(column, elsewhere, None, "before") is None
    assert positions.anchor(column, elsewhere, first.pk, "before") == first
    with pytest.raises(Invalid):
        positions.anchor(column, elsewhere, elsewhere.pk, "before")  # not in the column
    with pytest.raises(Invalid):
        positions.anchor(column, first, first.pk, "after")  # itself


def test_a_move_between_the_same_neighbours_is_already_there(team: Team) -> None:
    column, (first, second, third) = column_with(team, GAP, 2 * GAP, 3 * GAP)
    assert positions.already_there(second, column, before=third, after=None)
    assert positions.already_there(second, column, before=None, after=first)
    assert positions.already_there(third, column, before=None, after=None)  # already last
    assert not positions.already_there(second, column, before=first, after=None)
    assert not positions.already_there(first, column, before=None, after=None)
    assert not positions.already_there(first, team.columns[1], before=None, after=None)  # another column


def test_a_column_at_its_wip_limit_has_no_room(team: Team) -> None:
    column, _ = column_with(team, GAP, 2 * GAP)
    positions.check_room(column)  # no limit
    column.wip_limit = 3
    positions.check_room(column)
    with pytest.raises(Conflict, match="WIP limit of 3"):
        positions.check_room(column, incoming=2)


def test_done_follows_the_column(team: Team) -> None:
    _, (task,) = column_with(team, GAP)
    done = next(column for column in team.columns if column.is_done)
    positions.follow_column(task, done)
    assert task.is_done
    assert task.completed_at is not None
    stamped = task.completed_at
    positions.follow_column(task, done)
    assert task.completed_at == stamped  # staying done keeps the moment it got done
    positions.follow_column(task, team.columns[0])
    assert (task.is_done, task.completed_at) == (False, None)
