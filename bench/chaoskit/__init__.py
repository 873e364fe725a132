"""The chaos suite's parts: a hostile layer over the simulator, one driver per marketplace, seeded schedules,
the checks run after each, junk web requests and the report. ``bench/chaos.py`` runs them from the command
line; ``tests/chaos/`` runs a small seeded sample in the normal suite."""
