"""Page routes of the admin area under /manage/: settings, users and roles, API tokens, the
holiday calendar, audit log."""

from django.urls import path

from callcenter.views.manage import audit, holidays, settings, tokens, users

urlpatterns = [
    path("settings/", settings.settings_view, name="manage-settings"),
    path("users/", users.user_list_view, name="manage-users"),
    path("users/new/", users.user_create_view, name="manage-user-create"),
    path("users/<int:pk>/", users.user_detail_view, name="manage-user"),
    path("users/tokens/", tokens.token_list_view, name="manage-tokens"),
    path("users/tokens/new/", tokens.token_issue_view, name="manage-token-issue"),
    path("users/tokens/<int:pk>/revoke/", tokens.token_revoke_view, name="manage-token-revoke"),
    path("holidays/", holidays.holidays_view, name="manage-holidays"),
    path("holidays/<int:pk>/remove/", holidays.holiday_remove_view, name="manage-holiday-remove"),
    path("audit/", audit.audit_log_view, name="manage-audit"),
]
