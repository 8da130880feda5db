import pytest

from guidance.history import recording
from guidance.public.page_cache import forget_all_pages
from tests.browser import browser  # noqa: F401 - the module-scoped Chromium fixture
from tests.history_triggers import flush_lifts_history_triggers  # noqa: F401
from tests.reference_data import restore_reference_data


@pytest.fixture(autouse=True)
def no_cached_pages():
    """Each test starts with no cached public page: the data it was rendered from is gone."""
    forget_all_pages()


@pytest.fixture(autouse=True)
def reference_data_after_flush(request):
    """Programmes and roles for tests that commit: an earlier such test's flush emptied them."""
    marker = request.node.get_closest_marker("django_db")
    if (marker and marker.kwargs.get("transaction")) or "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
        restore_reference_data()


@pytest.fixture
def as_editor(django_user_model):
    """A context in which tests may write tracked models, as an editor with a reason."""
    user = django_user_model.objects.create_user("test-editor", password="x")

    def change(reason="Test change", **kwargs):
        return recording(user=user, reason=reason, **kwargs)

    change.user = user
    return change


def pytest_configure(config):
    """Hash test users' passwords with a fast hasher: the real one is slow on purpose."""
    from django.conf import settings  # noqa: PLC0415 - settings are configured by now

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The suite runs in one process: pages are kept in its memory, so that a test's query
    # counts are its page's own. The tests of the cache every process shares
    # (test_page_cache_processes.py) start processes of their own with the production setting.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
