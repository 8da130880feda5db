"""Where a user goes after signing in; shared by the admin, the history area and accounts."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme


def client_address(request):
    """The address django-axes counts failures against.

    Behind the HTTPS proxy (HTTPS=1) every request comes from the proxy, which appends the
    address it saw to X-Forwarded-For: the last entry is the one a client cannot forge.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and forwarded:
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR")


def is_auditor(user):
    """Reads the history area and changes no record: the history area is their start page."""
    return user.has_perm("guidance.view_audit") and not user.has_perm("guidance.change_guidance")


def start_page(user):
    return reverse("audit:index") if is_auditor(user) else reverse("admin:index")


def destination(request, next_url):
    """Where to go after signing in: next_url if it is a page of this site, else the start page."""
    if not next_url or next_url == reverse("admin:index"):
        return start_page(request.user)
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return start_page(request.user)
    try:
        match = resolve(urlsplit(next_url).path)
    except Resolver404:
        return start_page(request.user)
    if match.url_name is None and match.route.endswith("(?P<url>.*)$"):
        return start_page(request.user)  # the admin's catch-all: a 404 for a signed-in user
    return next_url


def to_second_factor(request, next_url=None):
    """Send a user who has given only their password to the second step."""
    next_url = request.get_full_path() if next_url is None else next_url
    return redirect(f"{reverse('accounts:second-factor')}?{urlencode({'next': next_url})}")
