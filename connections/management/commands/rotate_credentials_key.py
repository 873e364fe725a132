"""Re-encrypt every stored credential under the newest key of FIELD_ENCRYPTION_KEYS.

Key rotation: put the new key first (``FIELD_ENCRYPTION_KEYS=new,old``), restart, run this command, then drop
the old key."""

from __future__ import annotations

from django.core.management.base import CommandError

from connections import services
from connections.management.cli import OpsCommand


class Command(OpsCommand):
    help = "Re-encrypt every connection's credentials under the newest FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        try:
            count = services.credentials_reencrypt_all()
        except services.LifecycleError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Re-encrypted the credentials of {count} connection(s) under the newest key.")
