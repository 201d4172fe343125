from django.urls import path

from whatsapp_gateway.instances import views

app_name = "instances"

urlpatterns = [
    path("instances", views.list_view, name="list"),
    path("instances/new", views.create_view, name="create"),
    path("instances/<str:instance_id>/manage", views.manage_view, name="manage"),
    path("instances/<str:instance_id>/rename", views.rename_view, name="rename"),
    path("instances/<str:instance_id>/delete", views.delete_view, name="delete"),
    path("instances/<str:instance_id>/connect", views.connect_view, name="connect"),
    path("instances/<str:instance_id>/restart", views.restart_view, name="restart"),
    path("instances/<str:instance_id>/logout", views.logout_view, name="logout"),
    path("instances/<str:instance_id>/qr", views.qr_view, name="qr"),
    path("instances/<str:instance_id>/simulate", views.simulate_view, name="simulate"),
]
