from django.urls import path

from web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("signup/", views.signup, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("projects/", views.projects, name="projects"),
    path("projects/<uuid:project_id>/", views.board, name="board"),
    path("projects/<uuid:project_id>/sprints/", views.sprints, name="sprints"),
    path("projects/<uuid:project_id>/time/", views.time_report, name="time"),
    path("projects/<uuid:project_id>/settings/", views.project_settings, name="settings"),
]
