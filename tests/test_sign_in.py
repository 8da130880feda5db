"""Signing in as staff: password, lock-out, second factor, where it leads, how long it lasts."""

import io
import re
import time
from base64 import b32decode

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken

from guidance.middleware import LAST_SEEN, SIGNED_IN_AT
from tests.factories import enrol_authenticator, make_auditor, make_user, pass_second_factor

pytestmark = [pytest.mark.django_db, pytest.mark.second_factor]

PASSWORD = "correct horse battery"


def sign_in(client, username, password=PASSWORD, next_url=None, **extra):
    url = reverse("admin:login") + (f"?next={next_url}" if next_url else "")
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post(url, data, **extra)


def give_code(client, response, code):
    """Follow the password step to the second step and give it the code."""
    assert response.status_code == 302, response.content
    return client.post(response["Location"], {"code": code})


def test_sixty_wrong_passwords_lock_the_account_even_for_the_right_password(client):
    make_user("editor", groups=["Editors"], is_staff=True)
    for _ in range(60):
        assert sign_in(client, "editor", "wrong password").status_code in (200, 429)

    locked = sign_in(client, "editor")

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert not client.session.get("_auth_user_id")


def test_an_address_that_tries_many_accounts_is_locked_out(client):
    make_user("editor", groups=["Editors"], is_staff=True)
    for number in range(5):
        sign_in(client, f"guess-{number}", "wrong password", REMOTE_ADDR="203.0.113.9")

    assert sign_in(client, "editor", REMOTE_ADDR="203.0.113.9").status_code == 429
    assert sign_in(client, "editor", REMOTE_ADDR="198.51.100.4").status_code == 302


def test_auditors_read_failed_sign_ins_in_the_history_area(client):
    sign_in(client, "editor", "wrong password", HTTP_USER_AGENT="<script>alert(1)</script>")
    auditor = make_auditor()
    next_code = enrol_authenticator(auditor)
    give_code(client, sign_in(client, "auditor"), next_code())

    index = client.get(reverse("audit:index"))
    assert reverse("audit:sign-ins") in index.text
    page = client.get(reverse("audit:sign-ins"))

    assert page.status_code == 200
    row = re.search(r"<tr>\s*<td><time.*?</tr>", page.text, re.S).group()
    assert ">editor<" in row and ">127.0.0.1<" in row
    assert "&lt;script&gt;" in row and "<script>" not in row
    assert page["Cache-Control"] == "private, no-store"


def test_editors_may_not_read_failed_sign_ins(client):
    editor = make_user("editor", groups=["Editors"], is_staff=True)
    client.force_login(editor)
    pass_second_factor(client, editor)
    assert client.get(reverse("audit:sign-ins")).status_code == 403


def test_the_password_alone_opens_neither_the_admin_nor_the_history_area(client):
    enrol_authenticator(make_auditor())
    assert sign_in(client, "auditor").status_code == 302

    for url in (reverse("admin:index"), reverse("audit:log")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:second-factor"))


def test_a_wrong_code_is_refused_with_a_message(client):
    enrol_authenticator(make_user("editor", groups=["Editors"], is_staff=True))
    response = give_code(client, sign_in(client, "editor"), "000000")

    assert response.status_code == 400
    assert "That code is not right" in response.text
    assert client.get(reverse("admin:index")).status_code == 302


def test_staff_without_a_second_factor_enrol_with_a_qr_code_and_get_recovery_codes(client):
    make_user("editor", groups=["Editors"], is_staff=True)
    step = client.get(sign_in(client, "editor")["Location"], follow=True)
    assert step.redirect_chain[-1][0].startswith(reverse("accounts:enrol"))
    qr_code = client.get(reverse("accounts:enrol-qr-code"))
    assert qr_code["Content-Type"] == "image/svg+xml"
    assert qr_code.content.startswith(b"<?xml") and b"<svg" in qr_code.content
    assert "<script" not in step.text.split("</header>")[1]

    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', step.text).group(1)
    code = f"{totp(b32decode(secret)):06d}"
    done = client.post(step.redirect_chain[-1][0], {"code": code})

    codes = re.findall(r"<li><code>(\w+)</code></li>", done.text)
    assert len(codes) == 10
    assert client.get(reverse("admin:index")).status_code == 200
    # The secret is shown only while enrolling.
    assert client.get(reverse("accounts:enrol-qr-code")).status_code == 404

    # A recovery code lets the user in once instead of the app.
    client.post(reverse("accounts:sign-out"))
    give_code(client, sign_in(client, "editor"), codes[0])
    assert client.get(reverse("admin:index")).status_code == 200
    client.post(reverse("accounts:sign-out"))
    again = give_code(client, sign_in(client, "editor"), codes[0])
    assert again.status_code == 400
    assert StaticToken.objects.filter(device__user__username="editor").count() == 9


def test_a_password_alone_cannot_replace_an_existing_second_factor(client):
    enrol_authenticator(make_user("editor", groups=["Editors"], is_staff=True))
    sign_in(client, "editor")

    response = client.get(reverse("accounts:enrol"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:second-factor"))
    assert client.get(reverse("accounts:enrol-qr-code")).status_code == 404


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "/accounts/profile/", ""],
)
def test_an_unsafe_or_missing_next_leads_to_the_start_page(client, next_url):
    next_code = enrol_authenticator(make_user("editor", groups=["Editors"], is_staff=True))
    response = give_code(client, sign_in(client, "editor", next_url=next_url), next_code())

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert client.get(response["Location"]).status_code == 200


def test_a_safe_next_is_followed_after_both_steps(client):
    next_code = enrol_authenticator(make_user("editor", groups=["Editors"], is_staff=True))
    target = reverse("admin:guidance_guidance_changelist") + "?q=HTG501"
    response = give_code(client, sign_in(client, "editor", next_url=target), next_code())

    assert response["Location"] == target


def test_an_auditor_starts_in_the_history_area_and_signs_out_from_it(client):
    next_code = enrol_authenticator(make_auditor())
    response = give_code(client, sign_in(client, "auditor", next_url=""), next_code())

    assert response["Location"] == reverse("audit:index")
    page = client.get(response["Location"])
    assert f'action="{reverse("accounts:sign-out")}"' in page.text

    signed_out = client.post(reverse("accounts:sign-out"))
    assert signed_out.status_code == 302
    assert client.get(reverse("audit:index")).status_code == 302
    assert client.get(reverse("audit:index"))["Location"].startswith(reverse("admin:login"))


def test_a_publisher_starts_in_the_admin(client):
    next_code = enrol_authenticator(make_auditor("publisher", group="Publishers"))
    response = give_code(client, sign_in(client, "publisher", next_url=""), next_code())
    assert response["Location"] == reverse("admin:index")


def test_staff_without_a_role_are_refused_everywhere_after_signing_in(client):
    staff = make_user("staff-only", is_staff=True)
    next_code = enrol_authenticator(staff)
    give_code(client, sign_in(client, "staff-only"), next_code())

    assert client.get(reverse("admin:index")).status_code == 403
    assert client.get(reverse("admin:guidance_guidance_changelist")).status_code == 403
    assert client.get(reverse("audit:index")).status_code == 403


@pytest.mark.parametrize(
    ("signed_in_ago", "idle_for", "still_signed_in"),
    [
        (60, 60, True),
        (7 * 3600, 29 * 60, True),
        (8 * 3600 + 60, 60, False),
        (3600, 31 * 60, False),
    ],
)
def test_sessions_end_after_eight_hours_or_thirty_idle_minutes(
    client, signed_in_ago, idle_for, still_signed_in
):
    next_code = enrol_authenticator(make_user("editor", groups=["Editors"], is_staff=True))
    give_code(client, sign_in(client, "editor"), next_code())
    assert client.get(reverse("admin:index")).status_code == 200
    session = client.session
    now = int(time.time())
    session[SIGNED_IN_AT] = now - signed_in_ago
    session[LAST_SEEN] = now - idle_for
    session.save()

    response = client.get(reverse("admin:index"))

    assert (response.status_code == 200) is still_signed_in
    if not still_signed_in:
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("83927561047", "too short"),
        ("839275610474512", "entirely numeric"),
        ("password12345", "too common"),
        ("short-pw", "too short"),
    ],
)
def test_weak_passwords_are_refused(password, message):
    with pytest.raises(ValidationError) as refused:
        validate_password(password)
    assert message in " ".join(refused.value.messages)


def test_a_long_uncommon_password_is_accepted():
    validate_password("gentle-otter-riverbank-42")


def test_the_admin_refuses_a_weak_new_password(client):
    user = make_user("editor", groups=["Editors"], is_staff=True)
    client.force_login(user)
    pass_second_factor(client, user)
    response = client.post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": "83927561047", "new_password2": "83927561047"},
    )
    assert response.status_code == 200
    assert "This password is too short" in response.text
    assert "This password is entirely numeric" in response.text


def test_demo_accounts_get_an_authenticator_secret_that_signs_them_in(client):
    out = io.StringIO()
    call_command("create_demo_accounts", stdout=out)
    secrets = dict(
        re.findall(r"(\w+) \(\w+\): password .*?, authenticator secret ([A-Z2-7]+)", out.getvalue())
    )
    assert set(secrets) == {"editor", "publisher", "auditor"}

    again = io.StringIO()
    call_command("create_demo_accounts", stdout=again)
    assert f"authenticator secret {secrets['auditor']}" in again.getvalue()

    response = sign_in(client, "auditor", "auditor-demo-password")
    done = give_code(client, response, f"{totp(b32decode(secrets['auditor'])):06d}")
    assert done["Location"] == reverse("audit:index")
