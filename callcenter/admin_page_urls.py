"""Page routes of the admin area under /manage/: settings, users and roles, audit log."""

from django.urls import path

from callcenter.views.manage import audit, settings, users

urlpatterns = [
    path("settings/", settings.settings_view, name="manage-settings"),
    path("users/", users.user_list_view, name="manage-users"),
    path("users/new/", users.user_create_view, name="manage-user-create"),
    path("users/<int:pk>/", users.user_detail_view, name="manage-user"),
    path("audit/", audit.audit_log_view, name="manage-audit"),
]
