"""Signals of the connection lifecycle.

``connection_deleting`` is sent inside the deletion's transaction *before* anything is collected for deletion,
with ``connection``. A receiver may settle state that outlives the connection (for instance release the open
stock reservations of its order items, so an organization-wide inventory item's reserved count stays equal to
its open reservations). If a receiver raises, nothing is deleted.
"""

from django.dispatch import Signal

connection_deleting = Signal()
