"""The site's URLs under a prefix, for a test that changes the URL configuration."""

from django.urls import include, path

urlpatterns = [path("registry/", include("config.urls"))]
