from django.urls import path

from tasks.api import projects, sprints, tasks, time

urlpatterns = [
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<str:project_id>/", projects.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<str:project_id>/transfer/", projects.ProjectTransferView.as_view(), name="project-transfer"),
    path("projects/<str:project_id>/members/", projects.MemberListView.as_view(), name="member-list"),
    path(
        "projects/<str:project_id>/members/<str:user_id>/",
        projects.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path("projects/<str:project_id>/columns/", projects.ColumnListView.as_view(), name="column-list"),
    path(
        "projects/<str:project_id>/columns/<str:column_id>/",
        projects.ColumnDetailView.as_view(),
        name="column-detail",
    ),
    path("projects/<str:project_id>/labels/", projects.LabelListView.as_view(), name="label-list"),
    path(
        "projects/<str:project_id>/labels/<str:label_id>/",
        projects.LabelDetailView.as_view(),
        name="label-detail",
    ),
    path("projects/<str:project_id>/board/", projects.BoardView.as_view(), name="board"),
    path("projects/<str:project_id>/activity/", projects.ProjectActivityView.as_view(), name="project-activity"),
    path("projects/<str:project_id>/sprints/", sprints.ProjectSprintsView.as_view(), name="sprint-list"),
    path("projects/<str:project_id>/velocity/", sprints.ProjectVelocityView.as_view(), name="velocity"),
    path("sprints/<str:sprint_id>/", sprints.SprintDetailView.as_view(), name="sprint-detail"),
    path("sprints/<str:sprint_id>/start/", sprints.SprintStartView.as_view(), name="sprint-start"),
    path("sprints/<str:sprint_id>/complete/", sprints.SprintCompleteView.as_view(), name="sprint-complete"),
    path("sprints/<str:sprint_id>/burndown/", sprints.SprintBurndownView.as_view(), name="sprint-burndown"),
    path("projects/<str:project_id>/time-report/", time.ProjectTimeReportView.as_view(), name="time-report"),
    path("time-entries/", time.TimeEntryListView.as_view(), name="time-entry-list"),
    path("time-entries/<str:entry_id>/", time.TimeEntryDetailView.as_view(), name="time-entry-detail"),
    path("tasks/<str:task_id>/timer/start/", time.TaskTimerStartView.as_view(), name="timer-start"),
    path("timer/stop/", time.TimerStopView.as_view(), name="timer-stop"),
    path("timer/", time.TimerView.as_view(), name="timer"),
    path("tasks/", tasks.TaskListView.as_view(), name="task-list"),
    path("tasks/bulk/", tasks.TaskBulkView.as_view(), name="task-bulk"),
    path("tasks/<str:task_id>/", tasks.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<str:task_id>/move/", tasks.TaskMoveView.as_view(), name="task-move"),
    path("tasks/<str:task_id>/comments/", tasks.TaskCommentsView.as_view(), name="task-comments"),
    path("tasks/<str:task_id>/activity/", tasks.TaskActivityView.as_view(), name="task-activity"),
    path("comments/<str:comment_id>/", tasks.CommentDetailView.as_view(), name="comment-detail"),
]
