"""What every answer of the public API carries: a rate limit, CORS, ETag and Cache-Control."""

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, set_response_etag
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

READ_METHODS = ("GET", "HEAD", "OPTIONS")


class ClientRateThrottle(SimpleRateThrottle):
    """Requests per client address, counted over every answer of the API."""

    scope = "api"

    def get_rate(self):
        # Read at each request rather than once at import, so that a changed setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PublicApiMiddleware:
    """Rate-limit, open to other origins for reading, and mark cacheable every API answer.

    It sits before PageCacheMiddleware: an answer the page cache holds is counted against the
    client's rate and gets the same headers as a fresh one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(reverse("api:index")):
            return self.get_response(request)
        throttle = ClientRateThrottle()
        if request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            response = HttpResponse(status=204)  # a browser's CORS preflight
        elif not throttle.allow_request(request, None):
            wait = int(throttle.wait() or 1)
            response = JsonResponse(
                {"detail": f"Too many requests: try again in {wait} seconds."}, status=429
            )
            response["Retry-After"] = str(wait)
        else:
            response = self.get_response(request)
        if response.status_code == 429 or response.status_code >= 500:
            patch_cache_control(response, no_store=True)
        else:
            # Browsers check with the ETag every time; a shared cache keeps it until a change
            # purges it (the page cache adds s-maxage and the surrogate keys).
            patch_cache_control(response, public=True, max_age=0)
        if response.status_code == 200 and request.method in ("GET", "HEAD"):
            if not response.has_header("ETag") and not response.streaming:
                set_response_etag(response)
            response = get_conditional_response(request, etag=response["ETag"], response=response)
        if request.method in READ_METHODS:
            response["Access-Control-Allow-Origin"] = "*"
            response["Access-Control-Allow-Methods"] = ", ".join(READ_METHODS)
            response["Access-Control-Allow-Headers"] = "Accept, If-None-Match, If-Modified-Since"
            response["Access-Control-Expose-Headers"] = "ETag, Last-Modified, Retry-After"
            response["Access-Control-Max-Age"] = "86400"
        return response
