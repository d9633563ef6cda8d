from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from timetodo import views

urlpatterns = [
    path("health", views.health_live, name="health"),
    path("health/detailed", views.health_detailed, name="health-detailed"),
    path("metrics", views.metrics, name="metrics"),
    path("api/v1/auth/", include("accounts.urls")),
    path("api/v1/", include("tasks.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
]
