"""The site's URLs plus a cached page that varies on a request header."""

from django.http import HttpResponse
from django.urls import include, path
from django.utils.cache import patch_vary_headers

from guidance.public.page_cache import cached_page


@cached_page
def greeting(request):
    greeting.rendered += 1
    language = request.headers.get("Accept-Language", "en")
    response = HttpResponse(f"Greeting in {language}")
    patch_vary_headers(response, ["Accept-Language"])
    return response


greeting.rendered = 0

urlpatterns = [path("greeting/", greeting), path("", include("config.urls"))]
