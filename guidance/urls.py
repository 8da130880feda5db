from django.urls import path

from . import views

app_name = "guidance"

urlpatterns = [
    path("guidance/<str:reference>/", views.overview, name="overview"),
    path("guidance/<str:reference>/chapter/<slug:slug>/", views.chapter, name="chapter"),
]
