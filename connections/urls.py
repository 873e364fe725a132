from django.urls import path

from connections import views

app_name = "connections"

urlpatterns = [
    path("switch-organization/", views.organization_switch, name="organization_switch"),
    path("", views.connection_list, name="connection_list"),
    path("audit/", views.audit_log, name="audit_log"),
    path("new/", views.connection_create, name="connection_create"),
    path("new/<str:marketplace>/", views.connection_create_form, name="connection_create_form"),
    path("<int:pk>/rotate/", views.connection_rotate, name="connection_rotate"),
    path("<int:pk>/sync/", views.connection_sync_now, name="connection_sync_now"),
    path("<int:pk>/test/", views.connection_test, name="connection_test"),
    path("<int:pk>/disconnect/", views.connection_disconnect, name="connection_disconnect"),
    path("<int:pk>/reconnect/", views.connection_reconnect, name="connection_reconnect"),
    path("<int:pk>/delete/", views.connection_delete, name="connection_delete"),
    path("<int:pk>/entities/<str:entity>/toggle/", views.entity_sync_toggle, name="entity_sync_toggle"),
    path("<int:pk>/entities/<str:entity>/skipped/dismiss/", views.entity_sync_skipped_dismiss,
         name="entity_sync_skipped_dismiss"),
]
