"""Page routes of care: rule editor, templates, effectiveness reports, campaigns."""

from django.urls import path

from care.views import campaigns, reports, rules, templates

urlpatterns = [
    path("care/rules/", rules.rule_list_view, name="care-rules"),
    path("care/rules/new/", rules.rule_edit_view, name="care-rule-create"),
    path(
        "care/rules/install-playbook/",
        rules.playbook_install_view,
        name="care-playbook-install",
    ),
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
    path("care/campaigns/", campaigns.campaign_list_view, name="care-campaigns"),
    path("care/campaigns/new/", campaigns.campaign_edit_view, name="care-campaign-create"),
    path("care/campaigns/<int:pk>/", campaigns.campaign_detail_view, name="care-campaign"),
    path("care/campaigns/<int:pk>/edit/", campaigns.campaign_edit_view, name="care-campaign-edit"),
    path(
        "care/campaigns/<int:pk>/progress/",
        campaigns.campaign_progress_view,
        name="care-campaign-progress",
    ),
    *[
        path(
            f"care/campaigns/<int:pk>/{action}/",
            campaigns.campaign_action_view,
            {"action": action},
            name=f"care-campaign-{action}",
        )
        for action in campaigns.ACTIONS
    ],
]
