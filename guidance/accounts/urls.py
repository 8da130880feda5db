from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("start/", views.start, name="start"),
    path("second-factor/", views.second_factor, name="second-factor"),
    path("second-factor/enrol/", views.enrol, name="enrol"),
    path("second-factor/enrol/qr-code.svg", views.enrolment_qr_code, name="enrol-qr-code"),
    path("sign-out/", LogoutView.as_view(next_page="admin:login"), name="sign-out"),
]
