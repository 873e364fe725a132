from django.conf import settings

from marketsync.celery import app


def test_effective_celery_configuration_is_safe_for_at_least_once_delivery():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit < settings.SYNC_INTERVAL_SECONDS
    if conf.broker_url.startswith("redis"):
        assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_a_killed_workers_lease_runs_out_before_the_next_tick_and_before_a_redelivery():
    assert 0 < settings.SYNC_LEASE_HEARTBEAT_SECONDS * 2 <= settings.SYNC_LEASE_SECONDS < settings.SYNC_INTERVAL_SECONDS
    if app.conf.broker_url.startswith("redis"):  # a task redelivered after a worker died finds its lease expired
        assert app.conf.broker_transport_options["visibility_timeout"] > settings.SYNC_LEASE_SECONDS


def test_beat_has_one_dispatcher_per_entity_that_never_expires():
    app.finalize()
    schedule = app.conf.beat_schedule
    dispatchers = [entry for entry in schedule.values() if entry["task"] == "marketsync.sync.dispatch_entity"]
    entities = {entry["args"][0] for entry in dispatchers}
    assert entities == {"orders", "offers", "market_offers", "listings", "deliveries", "returns", "inventory"}
    assert len(dispatchers) == len(entities)
    for entry in dispatchers:  # idempotent (rows already waiting are skipped): a late one carries its tick's work
        assert "expires" not in entry.get("options", {})
    # The other periodic tasks expire within their own period, so a backlog of them never piles up.
    sweeps = [entry for entry in schedule.values() if entry["task"] == "inventory.stock_push_drain"]
    assert len(sweeps) == 1 and sweeps[0]["options"]["expires"] == settings.STOCK_PUSH_SWEEP_SECONDS


def test_beat_runs_brick_owls_catalog_and_the_worker_knows_the_task():
    app.finalize()
    entry = app.conf.beat_schedule["brickowl-catalog"]
    assert entry["task"] == "inventory.brickowl_catalog_refresh"
    app.loader.import_default_modules()
    assert "inventory.brickowl_catalog_refresh" in app.tasks


def test_beat_sweeps_ship_batches_left_sending_and_the_worker_knows_the_task():
    app.finalize()
    entry = app.conf.beat_schedule["ship-batch-sweep"]
    assert entry["task"] == "orders.ship_batch_sweep"
    assert entry["options"]["expires"] == settings.SYNC_INTERVAL_SECONDS
    app.loader.import_default_modules()
    assert "orders.ship_batch_sweep" in app.tasks
