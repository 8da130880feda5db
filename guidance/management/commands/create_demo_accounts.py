from base64 import b32encode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.settings import DEVELOPMENT_SECRET_KEY

# (username, group, password): well known on purpose, so refused outside development.
ACCOUNTS = [
    ("editor", "Editors", "editor-demo-password"),
    ("publisher", "Publishers", "publisher-demo-password"),
    ("auditor", "Auditors", "auditor-demo-password"),
]


class Command(BaseCommand):
    help = (
        "Create (or reset) one demo account per role: editor, publisher, auditor, each with an "
        "authenticator (TOTP) secret to add to an app, printed with the password."
    )

    def handle(self, *args, **options):
        if settings.SECRET_KEY != DEVELOPMENT_SECRET_KEY:
            raise CommandError(
                "Demo accounts have published passwords: they are only created in development "
                "(SECRET_KEY unset)."
            )
        User = get_user_model()
        for username, group_name, password in ACCOUNTS:
            user, created = User.objects.get_or_create(username=username)
            user.is_staff = True
            user.is_active = True
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=group_name)])
            # The same secret on every run, so the app keeps working after `make run` again.
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="Demo authenticator")
            action = "Created" if created else "Reset"
            self.stdout.write(
                f"{action} {username} ({group_name}): password {password}, "
                f"authenticator secret {b32encode(device.bin_key).decode()}\n"
                f"    {device.config_url}"
            )
