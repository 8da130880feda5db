"""Middleware of our own: refuse unusable addresses, end signed-in sessions on time, and
answer 503, not 500, while the database cannot be reached."""

import logging
import re
import time
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils.functional import SimpleLazyObject

# C0 controls (NUL included), DEL and C1 controls: never part of a real address or query.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN = "last_seen"


class RefuseControlCharactersMiddleware:
    """Answer 400 to an address whose path or query holds a control character, such as %00."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        for part, value in (("path", request.path), ("query string", unquote(query))):
            if CONTROL_CHARACTERS.search(value):
                return HttpResponseBadRequest(
                    f"The address's {part} contains a control character (such as %00): "
                    "remove it and try again.",
                    content_type="text/plain; charset=utf-8",
                )
        return self.get_response(request)


class SignInExpiryMiddleware:
    """Sign out a session SIGNED_IN_MAX_AGE after sign-in, or after SIGNED_IN_IDLE without use.

    Checked when a view asks who the user is, so a public page that never asks does not read
    the session (and stays the same for every reader, as the page cache needs).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        request.user = SimpleLazyObject(lambda: self.user_in_time(request, user))
        return self.get_response(request)

    def user_in_time(self, request, user):
        if not user.is_authenticated:
            return user
        now = int(time.time())
        session = request.session
        signed_in_at = session.setdefault(SIGNED_IN_AT, now)
        last_seen = session.get(LAST_SEEN, now)
        if (
            now - signed_in_at > settings.SIGNED_IN_MAX_AGE.total_seconds()
            or now - last_seen > settings.SIGNED_IN_IDLE.total_seconds()
        ):
            session.flush()
            return AnonymousUser()
        if LAST_SEEN not in session or now - last_seen >= 60:
            # At most one session write a minute for a user who keeps clicking.
            session[LAST_SEEN] = now
        return user


logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """A lost database connection is a passing outage: say so, and when to try again.

    Django closes the broken connection at the end of the request, and the next request opens
    a new one, so service resumes by itself once the database is back.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("Database unavailable for %s: %s", request.path, exception)
        response = TemplateResponse(request, "503.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
