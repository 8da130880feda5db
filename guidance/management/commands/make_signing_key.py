import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from guidance import proof


class Command(BaseCommand):
    help = (
        "Write a new Ed25519 private key for signing history to PATH (readable by its owner "
        "only) and print its public key and key id. Without PATH, make the development key "
        "if there is none."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="Where to write the private key (PEM).")

    def handle(self, *args, path=None, **options):
        development = path is None
        target = Path(path or settings.DEVELOPMENT_SIGNING_KEY_FILE)
        if target.exists():
            if development:
                return
            raise CommandError(f"{target} exists already: a key is never overwritten.")
        pem = proof.new_private_key_pem()
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(pem)
        public_key = proof.load_private_key(pem, str(target)).public_key()
        self.stdout.write(f"Wrote the private key to {target}; keep it out of the database.")
        self.stdout.write(f"Key id: {proof.key_id(public_key)}")
        self.stdout.write(proof.public_pem(public_key).strip())
