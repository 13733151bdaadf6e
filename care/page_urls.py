"""Page routes of care: rule editor, templates, effectiveness reports."""

from django.urls import path

from care.views import reports, rules, templates

urlpatterns = [
    path("care/rules/", rules.rule_list_view, name="care-rules"),
    path("care/rules/new/", rules.rule_edit_view, name="care-rule-create"),
    path("care/rules/<int:pk>/edit/", rules.rule_edit_view, name="care-rule-edit"),
    path("care/rules/<int:pk>/activate/", rules.rule_activate_view, name="care-rule-activate"),
    path(
        "care/rules/<int:pk>/deactivate/",
        rules.rule_deactivate_view,
        name="care-rule-deactivate",
    ),
    path("care/rules/<int:pk>/history/", rules.rule_history_view, name="care-rule-history"),
    path("care/templates/", templates.template_list_view, name="care-templates"),
    path("care/templates/new/", templates.template_edit_view, name="care-template-create"),
    path("care/templates/<int:pk>/", templates.template_edit_view, name="care-template-edit"),
    path(
        "care/templates/preview/",
        templates.template_preview_view,
        name="care-template-preview",
    ),
    path("care/customer-picker/", templates.customer_picker_view, name="care-customer-picker"),
    path("care/effectiveness/", reports.effectiveness_view, name="care-effectiveness"),
    path("care/kpis/", reports.kpis_view, name="care-dashboard-kpis"),
]
