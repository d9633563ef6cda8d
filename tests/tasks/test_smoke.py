from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_smoke(team) -> None:
    t = team.create_task(title="First")
    assert t["key"] == "TTD-1"
    r = team.clients["member"].patch(f"/api/v1/tasks/{t['id']}/", {"title": "Renamed"}, format="json")
    assert r.status_code == 200, r.content
    board = team.clients["viewer"].get(team.url("board/"))
    assert board.status_code == 200, board.content
    assert board.json()["columns"][0]["tasks"][0]["title"] == "Renamed"
    act = team.clients["viewer"].get(team.url("activity/"))
    assert act.status_code == 200, act.content
    assert [e["verb"] for e in act.json()["results"]] == ["task.updated", "task.created"]
    lst = team.clients["viewer"].get("/api/v1/projects/")
    assert lst.json()["results"][0]["my_role"] == "viewer", lst.json()
