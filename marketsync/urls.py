from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/sync-health/", include("marketsync.admin_health")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", RedirectView.as_view(pattern_name="orders:order_list", permanent=False), name="home"),
    path("orders/", include("orders.urls")),
    path("offers/", include("offers.urls")),
    path("listings/", include("listings.urls")),
    path("backship/", include("backship.urls")),
    path("connections/", include("connections.urls")),
    path("", include("marketsync.webhooks.urls")),
]
