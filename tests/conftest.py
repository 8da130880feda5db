import os
import tempfile
from pathlib import Path

import pytest
from django.test import Client

from guidance import proof
from guidance.history import recording
from guidance.public.page_cache import forget_all_pages
from tests.browser import browser  # noqa: F401 - the module-scoped Chromium fixture
from tests.factories import pass_second_factor
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


@pytest.fixture(autouse=True)
def force_login_passes_the_second_factor(request, monkeypatch):
    """client.force_login() also marks the session verified, except in tests of the second factor.

    Such tests are marked `second_factor` and sign in through the real pages.
    """
    if request.node.get_closest_marker("second_factor"):
        return
    force_login = Client.force_login

    def force_login_and_verify(client, user, backend=None):
        force_login(client, user, backend)
        pass_second_factor(client, user)

    monkeypatch.setattr(Client, "force_login", force_login_and_verify)


def commits(item):
    """Whether a test commits: pytest-django empties the database after it, and so runs such
    tests after the others that use the database."""
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", [])
    marked = marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))
    return bool(marked) or "transactional_db" in fixtures or "live_server" in fixtures


def pytest_itemcollected(item):
    """Mark the tests that commit: `make test` runs them in a second run of their own, in
    parallel, as pytest-django runs them last in a single process (their flush empties the
    tables the data migrations filled, which the other tests read)."""
    if commits(item):
        item.add_marker(pytest.mark.commits)


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
    # A signing key of the run's own, in a file that commands run as subprocesses read too.
    key_file = Path(tempfile.mkdtemp(prefix="history-key-")) / "signing-key.pem"
    key_file.write_text(proof.new_private_key_pem())
    os.environ["HISTORY_SIGNING_KEY_FILE"] = str(key_file)
    settings.HISTORY_SIGNING_KEY = ""
    settings.HISTORY_SIGNING_KEY_FILE = str(key_file)
    # The suite runs in one process: pages are kept in its memory, so that a test's query
    # counts are its page's own. The tests of the cache every process shares
    # (test_page_cache_processes.py) start processes of their own with the production setting.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Each test client builds the middleware afresh; WhiteNoise would then list every static
    # file the finders know, each time. Looking a file up when it is asked for, as in
    # development, costs nothing for the few tests that ask.
    settings.WHITENOISE_AUTOREFRESH = True
