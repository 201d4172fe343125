from django.urls import path

from whatsapp_gateway.suppression import views

app_name = "suppression"

urlpatterns = [
    path("suppressed-recipients", views.list_view, name="list"),
    path("suppressed-recipients/import", views.import_view, name="import"),
    path("suppressed-recipients/export.csv", views.export_view, name="export"),
    path("suppressed-recipients/<str:suppression_id>/remove", views.remove_view, name="remove"),
]
