from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("guidance.accounts.urls")),
    path("audit/", include("guidance.audit.urls")),
    path("api/v1/", include("guidance.public.api.urls")),
    path("", include("guidance.public.urls")),
]
