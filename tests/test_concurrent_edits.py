import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from guidance.editions import start_edition
from guidance.editorial.admin import GuidanceAdmin
from guidance.models import ChangeSet, Guidance
from tests.admin_forms import change_form_data
from tests.factories import make_document, make_user


def signed_in(username, first_name):
    client = Client()
    client.force_login(
        make_user(username, groups=["Editors"], is_staff=True, first_name=first_name)
    )
    return client


def draft_of(document):
    """Published guidance is edited in its draft edition: the editors race to save that."""
    return start_edition(document=document, user=make_user("starter"))


def open_page(client, guidance):
    return client.get(reverse("admin:guidance_guidance_change", args=[guidance.pk]))


def save(client, guidance, page, title, reason):
    return client.post(
        reverse("admin:guidance_guidance_change", args=[guidance.pk]),
        change_form_data(page, title=title, change_reason=reason, change_kind="minor"),
    )


@pytest.mark.django_db
def test_the_second_editor_to_save_is_told_who_saved_in_between_and_keeps_their_input():
    guidance = draft_of(make_document("HTG501"))
    first, second = signed_in("amina", "Amina"), signed_in("ben", "Ben")
    first_page, second_page = open_page(first, guidance), open_page(second, guidance)

    assert save(first, guidance, first_page, "Amina's title", "Clearer title").status_code == 302
    refused = save(second, guidance, second_page, "Ben's title", "Shorter title")

    content = refused.content.decode()
    assert refused.status_code == 200
    assert "HTG501 was saved by Amina" in content
    assert "your changes were not saved" in content
    assert 'value="Ben&#x27;s title"' in content
    assert "Shorter title" in content
    guidance.refresh_from_db()
    assert guidance.title == "Amina's title"
    assert guidance.version == 2
    assert not ChangeSet.objects.filter(reason="Shorter title").exists()


@pytest.mark.django_db
def test_saving_again_after_reopening_the_page_works():
    guidance = draft_of(make_document("HTG501"))
    first, second = signed_in("amina", "Amina"), signed_in("ben", "Ben")
    second_page = open_page(second, guidance)
    save(first, guidance, open_page(first, guidance), "Amina's title", "Clearer")
    save(second, guidance, second_page, "Ben's title", "Shorter")

    response = save(second, guidance, open_page(second, guidance), "Ben's title", "Shorter")

    assert response.status_code == 302
    assert Guidance.with_editions.get(pk=guidance.pk).title == "Ben's title"


@pytest.mark.django_db(transaction=True)
def test_two_saves_arriving_together_on_postgresql_let_exactly_one_through(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks)")
    guidance = draft_of(make_document("HTG501"))
    clients = [signed_in("amina", "Amina"), signed_in("ben", "Ben")]
    pages = [open_page(client, guidance) for client in clients]
    both_ready = threading.Barrier(2, timeout=10)
    lock = GuidanceAdmin.lock_for_save

    def lock_together(self, object_id):
        # Both requests have read the form; only now do they race for the row.
        both_ready.wait()
        return lock(self, object_id)

    monkeypatch.setattr(GuidanceAdmin, "lock_for_save", lock_together)
    responses = [None, None]

    def run(index):
        try:
            responses[index] = save(
                clients[index], guidance, pages[index], f"Title {index}", f"Reason {index}"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(response.status_code for response in responses) == [200, 302]
    winner = next(i for i, response in enumerate(responses) if response.status_code == 302)
    loser = 1 - winner
    assert "while you were editing it" in responses[loser].content.decode()
    guidance.refresh_from_db()
    assert guidance.title == f"Title {winner}"
    assert guidance.version == 2
    assert ChangeSet.objects.filter(reason__startswith="Reason").count() == 1
