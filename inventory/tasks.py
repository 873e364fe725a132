"""Brick Owl's catalog run on the beat (``marketsync/celery.py``): colours and item ids, bounded per run."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from inventory.catalog_sync import catalog_refresh


@shared_task(name="inventory.brickowl_catalog_refresh", ignore_result=True)
def brickowl_catalog_refresh_task() -> dict:
    """Cheap when nothing is due (no call at all); marketplace errors are reported in the result, not raised."""
    return asdict(catalog_refresh())
