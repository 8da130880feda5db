from django.urls import path

from . import audit_views

app_name = "audit"

urlpatterns = [
    path("", audit_views.index, name="index"),
    path("log/", audit_views.log, name="log"),
    path("log.csv", audit_views.log_csv, name="log-csv"),
    path("guidance/<str:reference>/", audit_views.timeline, name="timeline"),
    path("guidance/<str:reference>/as-it-stood/", audit_views.as_it_stood, name="as-it-stood"),
    path("guidance/<str:reference>/diff/", audit_views.diff, name="diff"),
]
