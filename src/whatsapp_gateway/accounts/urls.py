from django.urls import path

from whatsapp_gateway.accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/", views.account_settings, name="settings"),
    path("account/members/", views.members, name="members"),
    path("account/members/<str:membership_id>/role/", views.member_role, name="member_role"),
    path("account/members/<str:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("account/audit-log/", views.audit_log, name="audit_log"),
]
