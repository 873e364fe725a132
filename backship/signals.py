"""A deleted delivery or return (its connection deleted, say) takes its label file with it."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from backship.models import Delivery, Return


@receiver(post_delete, sender=Delivery)
@receiver(post_delete, sender=Return)
def delete_label_file(sender, instance, **kwargs) -> None:
    if instance.label_file:
        instance.label_file.delete(save=False)
