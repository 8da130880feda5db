"""Signing in past the password: the second factor, enrolling one, and each user's start page."""

from base64 import b32encode
from io import BytesIO
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode import make as make_qr_code
from qrcode.image.svg import SvgPathImage

from .. import signin
from .forms import CodeForm

RECOVERY_CODES = 10


@login_required
def start(request):
    """Redirect to the user's start page: the history area for auditors, else the admin."""
    return redirect(signin.start_page(request.user))


@never_cache
@login_required
def second_factor(request):
    next_url = signin.destination(request, request.GET.get("next", ""))
    if request.user.is_verified():
        return redirect(next_url)
    if not user_has_device(request.user):
        return redirect(f"{reverse('accounts:enrol')}?{urlencode({'next': next_url})}")
    form = CodeForm(request.POST or None)
    if form.is_valid():
        device = verified_device(request.user, form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            return redirect(next_url)
        form.add_error("code", _("That code is not right, or was used already: try the next."))
    return render(
        request, "accounts/second_factor.html", {"form": form}, status=400 if form.errors else 200
    )


def verified_device(user, code):
    """The user's device that accepts code (each counts and slows down wrong codes), or None."""
    with transaction.atomic():
        for device in devices_for_user(user, for_verify=True):
            if device.verify_token(code):
                return device
    return None


def pending_device(user):
    """The authenticator the user is setting up: made on first sight, confirmed by a code."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    return device


@never_cache
@login_required
def enrol(request):
    """Set up an authenticator app for a user who has no second factor yet."""
    next_url = signin.destination(request, request.GET.get("next", ""))
    if user_has_device(request.user):
        # Only a user with no second factor may add one: a password alone cannot replace it.
        return redirect(f"{reverse('accounts:second-factor')}?{urlencode({'next': next_url})}")
    device = pending_device(request.user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            codes = confirm(device)
            otp_login(request, device)
            return render(
                request, "accounts/recovery_codes.html", {"codes": codes, "next": next_url}
            )
        form.add_error("code", _("That code is not right: check the phone's clock, try the next."))
    context = {"form": form, "secret": b32encode(device.bin_key).decode()}
    return render(request, "accounts/enrol.html", context, status=400 if form.errors else 200)


@transaction.atomic
def confirm(device):
    """Confirm the authenticator and give the user a fresh set of one-use recovery codes."""
    device.confirmed = True
    device.save()
    recovery, _ = StaticDevice.objects.get_or_create(
        user=device.user, defaults={"name": "Recovery codes", "confirmed": True}
    )
    recovery.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    return codes


@login_required
def enrolment_qr_code(request):
    """The QR code of the authenticator being set up, as an SVG image."""
    if user_has_device(request.user):
        raise Http404
    image = make_qr_code(pending_device(request.user).config_url, image_factory=SvgPathImage)
    buffer = BytesIO()
    image.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    patch_cache_control(response, private=True, no_store=True)
    return response
