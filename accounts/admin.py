from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from accounts.services import user_sessions_end


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "full_name", "is_active", "is_staff", "last_login", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("username", "email", "full_name")
    ordering = ("username",)
    readonly_fields = ("last_login", "date_joined")
    actions = ("deactivate_users", "activate_users")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("full_name", "email")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),)

    @admin.action(description="Deactivate selected users (they can no longer log in)", permissions=["change"])
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset.exclude(pk=str(request.user.pk)).filter(is_active=True))
        count = queryset.filter(pk__in=[u.pk for u in users]).update(is_active=False)
        for user in users:
            user_sessions_end(user=user)
        self.message_user(request, f"Deactivated {count} user(s); their sessions are revoked.", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_sessions_end(user=obj)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_sessions_end(user=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_sessions_end(user=user)
        super().delete_queryset(request, queryset)

    @admin.action(description="Activate selected users", permissions=["change"])
    def activate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = queryset.filter(is_active=False).update(is_active=True)
        self.message_user(request, f"Activated {count} user(s).", messages.SUCCESS)
