"""What outreach adds to the care reports (care.selectors_reports.report_parts): whom its tasks
reached, who replied, and the tasks behind the KPI panel and the rule list."""

from care.selectors_reports import ReportPart, report_parts
from outreach.selectors_reports import (
    customer_replied,
    enrollment_reached,
    task_figures,
    tasks_by_rule,
)


def register() -> None:
    report_parts.register(
        "outreach",
        ReportPart(
            reached=enrollment_reached,
            responded=customer_replied,
            work_figures=task_figures,
            work_by_rule=tasks_by_rule,
        ),
    )
