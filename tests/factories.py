"""Plain factory functions with sensible defaults. Each writes inside recording()."""

import datetime
import itertools
import time

from django.contrib.auth import get_user_model
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from guidance.history import recording
from guidance.middleware import LAST_SEEN, SIGNED_IN_AT
from guidance.models import (
    Block,
    ChangeKind,
    Chapter,
    DatePrecision,
    Endorsement,
    Guidance,
    GuidanceStatus,
    Organisation,
    Programme,
    Relation,
    RelationType,
    UpdateEntry,
    split_reference,
)

_numbers = itertools.count(9000)


def make_user(username="someone", *, groups=(), password="correct horse battery", **kwargs):
    from django.contrib.auth.models import Group  # noqa: PLC0415

    user = get_user_model().objects.create_user(username, password=password, **kwargs)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def make_guidance(reference=None, *, reason="Test data", user=None, **fields):
    """A published document with a title; pass status=... or other fields to override."""
    reference = reference or f"IPG{next(_numbers)}"
    prefix, number = split_reference(reference)
    defaults = {
        "programme": Programme.objects.get(code=prefix),
        "number": number,
        "title": f"Guidance {reference}",
        "status": GuidanceStatus.PUBLISHED,
        "published_on": datetime.date(2019, 1, 30),
        "published_precision": DatePrecision.DAY,
    }
    defaults.update(fields)
    if defaults["status"] == GuidanceStatus.DRAFT and "published_on" not in fields:
        defaults["published_on"] = None
    with recording(user=user, reason=reason):
        return Guidance.objects.create(reference=reference, **defaults)


def make_chapter(guidance, number="1", title="Recommendations", *, position=None, blocks=()):
    """A chapter with blocks given as (kind, number, text) tuples."""
    with recording(reason="Test data"):
        chapter = Chapter.objects.create(
            guidance=guidance,
            position=position if position is not None else guidance.chapters.count() + 1,
            number=number,
            title=title,
        )
        for position, (kind, block_number, text) in enumerate(blocks, start=1):
            Block.objects.create(
                guidance=guidance,
                chapter=chapter,
                position=position,
                kind=kind,
                number=block_number,
                text=text,
            )
    return chapter


def make_document(reference=None, *, chapters=3, paragraphs=4, recommendations=2, **fields):
    """A document with a recommendations chapter and further numbered chapters."""
    guidance = make_guidance(reference, **fields)
    make_chapter(
        guidance,
        "1",
        "Recommendations",
        blocks=[
            (Block.Kind.RECOMMENDATION, f"1.{n}", f"Recommendation {n} text.")
            for n in range(1, recommendations + 1)
        ],
    )
    for chapter_number in range(2, chapters + 1):
        make_chapter(
            guidance,
            str(chapter_number),
            f"Chapter {chapter_number}",
            blocks=[(Block.Kind.HEADING, "", "A sub-heading")]
            + [
                (Block.Kind.PARAGRAPH, f"{chapter_number}.{n}", f"Paragraph {chapter_number}.{n}.")
                for n in range(1, paragraphs + 1)
            ],
        )
    return guidance


def make_relation(
    source, type, target, *, effective_on=None, precision=DatePrecision.MONTH, note=""
):
    with recording(reason="Test data"):
        return Relation.objects.create(
            source=source,
            type=RelationType(type),
            target=target,
            effective_on=effective_on,
            effective_precision=precision,
            note=note,
        )


def make_update_entry(guidance, text="Minor change.", *, kind=ChangeKind.MINOR, date=None):
    with recording(reason="Test data"):
        return UpdateEntry.objects.create(
            guidance=guidance,
            position=guidance.update_entries.count() + 1,
            date=date or datetime.date(2026, 1, 1),
            precision=DatePrecision.MONTH,
            kind=kind,
            text=text,
        )


def make_endorsement(guidance, organisation="Healthcare Improvement Scotland"):
    with recording(reason="Test data"):
        org, _ = Organisation.objects.get_or_create(name=organisation)
        return Endorsement.objects.create(
            guidance=guidance,
            organisation=org,
            statement=f"This guidance has been endorsed by {organisation}.",
        )


def pass_second_factor(client, user):
    """Mark the client's session as past the second factor, as django-otp's login() does."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="Test recovery codes", defaults={"confirmed": True}
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    # What the request of the second step leaves in the session: when the user signed in.
    session[SIGNED_IN_AT] = session[LAST_SEEN] = int(time.time())
    session.save()


def enrol_authenticator(user):
    """Give the user a confirmed TOTP device; return a function that gives its current code."""
    device = TOTPDevice.objects.create(user=user, name="Test authenticator")
    return lambda: f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"


def make_auditor(username="auditor", *, group="Auditors"):
    """A signed-in-able member of a role that may read the history area."""
    return make_user(username, groups=[group], is_staff=True)
