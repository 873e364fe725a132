"""Admin for Back Market listings and bulk tasks."""
