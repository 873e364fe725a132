from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from inventory.views import moved_from_listings

urlpatterns = [
    path("admin/sync-health/", include("marketsync.admin_health")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", RedirectView.as_view(pattern_name="orders:order_list", permanent=False), name="home"),
    path("orders/", include("orders.urls")),
    path("offers/", include("offers.urls")),
    # Brick stock's pages lived under /listings/inventory/ until stock had its own app: old links and bookmarks redirect.
    re_path(r"^listings/inventory/(?P<rest>.*)$", moved_from_listings, name="inventory_moved_from_listings"),
    path("listings/", include("listings.urls")),
    path("inventory/", include("inventory.urls")),
    path("backship/", include("backship.urls")),
    path("connections/", include("connections.urls")),
    path("", include("marketsync.webhooks.urls")),
]
