from django.urls import path

from whatsapp_gateway.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("dashboard", views.home_view, name="home"),
    path("dashboard/charts/<str:name>.svg", views.chart_view, name="chart"),
]
