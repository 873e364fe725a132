"""Keep stock consistent when a connection goes: its orders' open reservations are released first."""

from django.dispatch import receiver

from connections.signals import connection_deleting


@receiver(connection_deleting, dispatch_uid="inventory.release_reservations_of_deleted_connection")
def release_reservations_of_deleted_connection(sender, connection, **kwargs):
    from inventory.services import reservation_release_for_connection

    reservation_release_for_connection(connection=connection)
