import pytest

from guidance.history import recording
from tests.history_triggers import flush_lifts_history_triggers  # noqa: F401


@pytest.fixture
def as_editor(django_user_model):
    """A context in which tests may write tracked models, as an editor with a reason."""
    user = django_user_model.objects.create_user("test-editor", password="x")

    def change(reason="Test change", **kwargs):
        return recording(user=user, reason=reason, **kwargs)

    change.user = user
    return change
