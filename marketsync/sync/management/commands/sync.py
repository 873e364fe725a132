"""``manage.py sync``: run syncs in the foreground, with a progress bar and one summary line per entity."""

from __future__ import annotations

from django.core.management.base import CommandError
from tqdm import tqdm

from connections.management.cli import OpsCommand, connection_or_error, organization_or_error, record_id
from connections.models import EntitySync
from marketsync.marketplaces import SUPPORTED_ENTITIES, Entity, Marketplace
from marketsync.sync.runner import run_entity_sync


class Command(OpsCommand):
    help = "Sync now, in the foreground. Exits non-zero if any entity failed."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organization slug")
        parser.add_argument("--connection", type=record_id, help="connection id")
        parser.add_argument("--entity", nargs="+", choices=[e.value for e in Entity], metavar="ENTITY",
                            help=f"entities: {', '.join(e.value for e in Entity)}")
        parser.add_argument("--force", action="store_true", help="also run switched-off syncs and ones waiting for credentials")

    def handle(self, *args, org=None, connection=None, entity=None, force=False, **options):
        organization = organization_or_error(org) if org else None
        chosen = connection_or_error(connection, organization=organization) if connection else None
        syncs = EntitySync.objects.select_related("connection", "connection__organization").order_by("connection_id", "entity")
        if organization is not None:
            syncs = syncs.filter(connection__organization=organization)
        if chosen is not None:
            syncs = syncs.filter(connection=chosen)
        if entity:
            syncs = syncs.filter(entity__in=entity)
            if chosen is not None and not syncs.exists():
                supported = ", ".join(SUPPORTED_ENTITIES[Marketplace(chosen.marketplace)])
                raise CommandError(f"Connection {chosen.pk} ({chosen.marketplace_label}) does not sync "
                                   f"{', '.join(entity)}; it syncs {supported}.")
        if not force:
            syncs = syncs.filter(enabled=True, connection__enabled=True)
        syncs = list(syncs)
        if not syncs:
            raise CommandError("Nothing to sync for these options: no sync matches, or every one that does is switched "
                               "off or its connection disconnected (--force runs those).")
        failed = 0
        bar = tqdm(syncs, unit="entity", disable=None, file=self.stderr._out)
        for sync in bar:
            label = f"{sync.connection.organization.slug} · {sync.connection.marketplace} · {sync.entity}"
            bar.set_description(label)
            outcome = run_entity_sync(sync.pk, force=force)
            line = (
                f"{label}: {outcome.status} seen={outcome.seen} created={outcome.created} changed={outcome.changed} "
                f"unchanged={outcome.unchanged} removed={outcome.removed} duration={outcome.duration:.1f}s"
            )
            if outcome.error:
                line += f" error={outcome.error}"
            if outcome.failed:
                failed += 1
                tqdm.write(self.style.ERROR(line), file=self.stdout._out)
            else:
                tqdm.write(line, file=self.stdout._out)
        if failed:
            raise CommandError(f"{failed} of {len(syncs)} sync(s) failed.")
