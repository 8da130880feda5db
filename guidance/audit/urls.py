from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.index, name="index"),
    path("log/", views.log, name="log"),
    path("log.csv", views.log_csv, name="log-csv"),
    path("sign-ins/", views.sign_ins, name="sign-ins"),
    path("guidance/<str:reference>/", views.timeline, name="timeline"),
    path("guidance/<str:reference>/as-it-stood/", views.as_it_stood, name="as-it-stood"),
    path("guidance/<str:reference>/diff/", views.diff, name="diff"),
    path("guidance/<str:reference>/evidence/", views.evidence_pack, name="evidence"),
]
