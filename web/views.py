"""Pages of the web app. Reads go through the same selectors as the API, writes through
the same services; the board itself is drawn by static/web/board.js from one board
request, and kept live over the socket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import services as account_services
from accounts.serializers import RegisterSerializer
from accounts.throttling import limit_login_attempts
from tasks import selectors
from tasks.models import Membership, Project, Task
from tasks.permissions import Action, has_role
from tasks.serializers.projects import ProjectCreateSerializer
from tasks.services import projects as project_services
from timetodo.errors import DomainError
from web.security import page


def count_of(model: type[Task] | type[Membership]) -> Subquery:
    rows = model.objects.filter(project=OuterRef("pk")).order_by().values("project")
    return Subquery(rows.annotate(n=Count("*")).values("n")[:1])


def form_errors(errors: Any) -> dict[str, list[str]]:
    """A serializer's or a domain error's messages by field, as strings."""
    return {field: [str(message) for message in messages] for field, messages in dict(errors).items()}


@page
@require_safe
def home(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated:
        return redirect("web:projects")
    return render(request, "web/landing.html")


class LoginView(auth_views.LoginView):
    http_method_names = ["get", "post", "head", "options"]
    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        """`next` only when it is a path on this site ("/x", never "//host" or "https://...")."""
        target = self.request.POST.get("next", self.request.GET.get("next", ""))
        if target.startswith("/") and not target.startswith(("//", "/\\")):
            return str(super().get_redirect_url())  # (Django's takes no request; its stubs say it may)
        return ""

    def get_default_redirect_url(self) -> str:
        return "/projects/"


def login_refused(request: HttpRequest, wait: int) -> HttpResponse:
    """The login page again, saying when to try again (the API's limit, counted the same way)."""
    form = AuthenticationForm(request, data={"username": request.POST.get("username", "")[:254]})
    form.errors.clear()
    seconds = f"{wait} second{'s' if wait != 1 else ''}"
    form.add_error(None, f"Too many login attempts: try again in {seconds}.")
    return render(request, "web/login.html", {"form": form, "next": request.POST.get("next", "")}, status=429)


login_view = page(limit_login_attempts(LoginView.as_view(), refused=login_refused))


@page
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated:
        return redirect("web:projects")
    values = {name: request.POST.get(name, "") for name in ("email", "username", "password", "full_name")}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        serializer = RegisterSerializer(data=values)
        if serializer.is_valid():
            data = serializer.validated_data
            try:
                user = account_services.user_register(
                    email=data["email"],
                    username=data["username"],
                    password=data["password"],
                    full_name=data["full_name"],
                )
            except DomainError as error:
                errors = form_errors(error.body())
            else:
                login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
                return redirect("web:projects")
        else:
            errors = form_errors(serializer.errors)
    values.pop("password")
    return render(request, "web/signup.html", {"values": values, "errors": errors}, status=400 if errors else 200)


@page
@require_POST
def logout_view(request: HttpRequest) -> HttpResponseBase:
    return auth_views.LogoutView.as_view(next_page="/")(request)


@page
@login_required
@require_http_methods(["GET", "POST"])
def projects(request: HttpRequest) -> HttpResponseBase:
    values = {"name": request.POST.get("name", ""), "key": request.POST.get("key", "")}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        serializer = ProjectCreateSerializer(data=values)
        if serializer.is_valid():
            try:
                project = project_services.project_create(
                    actor=request.user,  # type: ignore[arg-type]
                    name=serializer.validated_data["name"],
                    key=serializer.validated_data["key"],
                )
            except DomainError as error:
                errors = form_errors(error.body())
            else:
                return redirect("web:board", project_id=project.pk)
        else:
            errors = form_errors(serializer.errors)
    listing = selectors.projects_for_user(user=request.user).annotate(  # type: ignore[arg-type]
        task_count=count_of(Task), member_count=count_of(Membership)
    )
    context = {"projects": listing, "values": values, "errors": errors}
    return render(request, "web/projects.html", context, status=400 if errors else 200)


def project_context(request: HttpRequest, project_id: UUID, tab: str) -> dict[str, Any]:
    """The project and the caller's role, resolved once; a project the caller cannot see
    is a 404 page, as it is a 404 in the API."""
    try:
        project, role = selectors.with_role(user=request.user, queryset=Project.objects.all(), pk=project_id)  # type: ignore[arg-type]
    except DomainError:
        raise Http404("No such project.") from None
    return {
        "project": project,
        "role": role,
        "tab": tab,
        "can_edit": has_role(role, Action.EDIT_TASKS.minimum),
        "is_admin": has_role(role, Action.EDIT_PROJECT.minimum),
    }


def project_page(template: str, tab: str) -> Callable[..., HttpResponseBase]:
    """A project's page that any member may read: the data comes from the API, in the page's script."""

    @page
    @login_required
    @require_safe
    def view(request: HttpRequest, project_id: UUID) -> HttpResponse:
        return render(request, template, project_context(request, project_id, tab))

    view.__name__ = view.__qualname__ = tab
    return view


board = project_page("web/board.html", "board")
sprints = project_page("web/sprints.html", "sprints")
time_report = project_page("web/time.html", "time")


@page
@login_required
@require_safe
def project_settings(request: HttpRequest, project_id: UUID) -> HttpResponse:
    context = project_context(request, project_id, "settings")
    if not context["is_admin"]:
        return render(request, "web/forbidden.html", context, status=403)
    return render(request, "web/settings.html", context)
