from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from accounts.services import refresh_tokens_revoke_all
from timetodo.streams import revoke_on_commit, user_stream


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
        for user in users:
            refresh_tokens_revoke_all(user=user)
        count = queryset.filter(pk__in=[u.pk for u in users]).update(is_active=False)
        for user in users:
            revoke_on_commit(user_stream(user.pk), "user_deactivated")  # their open sockets close
        self.message_user(request, f"Deactivated {count} user(s); their sessions are revoked.", messages.SUCCESS)

    @admin.action(description="Activate selected users", permissions=["change"])
    def activate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = queryset.filter(is_active=False).update(is_active=True)
        self.message_user(request, f"Activated {count} user(s).", messages.SUCCESS)
