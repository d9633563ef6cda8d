from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.throttling import limit_login_attempts
from timetodo import views

urlpatterns = [
    path("health", views.health_live, name="health"),
    path("health/detailed", views.health_detailed, name="health-detailed"),
    path("metrics", views.metrics, name="metrics"),
    path("api/v1/auth/", include("accounts.urls")),
    path("api/v1/", include("tasks.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Login forms share the API's guessing limits.
    path("admin/login/", limit_login_attempts(admin.site.login)),
    path("admin/", admin.site.urls),
    path(
        "api-auth/login/",
        limit_login_attempts(LoginView.as_view(template_name="rest_framework/login.html")),
    ),
    path("api-auth/", include("rest_framework.urls")),
    # The web app (pages for people in a browser); last, so it never shadows the API.
    path("", include("web.urls")),
]
