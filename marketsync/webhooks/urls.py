from django.urls import path

from marketsync.webhooks import views

urlpatterns = [
    path("webhooks/bricklink/<str:token>/", views.bricklink_notify, name="webhook_bricklink"),
    path("webhooks/brickowl/<str:token>/", views.brickowl_notify, name="webhook_brickowl"),
    path("webhooks/refurbed/<str:token>/", views.refurbed_notify, name="webhook_refurbed"),
    path("brick_owl_order_notify", views.brickowl_fixed_notify, name="webhook_brickowl_fixed"),
]
