"""Root URL configuration: pages, API (with schema and docs), admin, language switch."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from callcenter.views import role_required
from callcenter.views.health import favicon, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The API description is for call-center users only (SPECTACULAR_SETTINGS SERVE_PERMISSIONS);
    # the docs page sends an anonymous browser to the login page.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        role_required()(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    # The core API first: the screen-pop, on every ringing call, resolves without walking
    # the other apps' patterns (none of their paths overlap).
    path("api/", include("callcenter.api_urls")),
    path("api/", include("segments.urls")),
    path("api/", include("outreach.urls")),
    path("api/", include("care.urls")),
    path("api/", include("service.urls")),
    path("", include("callcenter.page_urls")),
    path("", include("segments.page_urls")),
    path("", include("care.page_urls")),
    path("", include("outreach.page_urls")),
    path("", include("service.page_urls")),
    path("manage/", include("callcenter.admin_page_urls")),
]

# Refusals and errors in the product's layout (callcenter.views.errors).
handler403 = "callcenter.views.errors.permission_denied"
handler404 = "callcenter.views.errors.page_not_found"
handler500 = "callcenter.views.errors.server_error"
