"""Staff view of sync health across every organization, inside the admin (``/admin/sync-health/``).

The same words as the merchants' page (``connections.health``), for every connection at once.
"""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path

from connections.health import sync_backlog, sync_health_list


def sync_health_view(request):
    health = sync_health_list()
    context = {
        **admin.site.each_context(request),
        "title": "Sync health",
        "health": health,
        "problems": sum(1 for h in health if h.worst != "ok"),
        "backlog": sync_backlog(),
    }
    return TemplateResponse(request, "connections/admin_sync_health.html", context)


# Staff only: the admin's login and permission check wrap the view.
admin_sync_health = admin.site.admin_view(sync_health_view)

# Mounted by one line in marketsync/urls.py: path("admin/sync-health/", include("marketsync.admin_health")).
urlpatterns = [path("", admin_sync_health, name="admin_sync_health")]
