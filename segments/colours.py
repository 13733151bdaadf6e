"""One colour per lifecycle stage and per value tier, for every chart that shows them.

The charts get the colour with each row of data (see `selectors_ui.share_chart_rows`), so a
stage looks the same on the dashboard's doughnut, its trend lines and a segment's composition
bars, whatever order or subset of stages a chart holds. Charts of other things (RFM segments,
clusters) keep the script's palette.
"""

from segments.choices import LifecycleStage, ValueTier

# From fresh to gone: violet, blue, green, amber, red, slate.
LIFECYCLE_COLOURS: dict[str, str] = {
    LifecycleStage.PROSPECT: "#7c3aed",
    LifecycleStage.NEW: "#2563eb",
    LifecycleStage.ACTIVE: "#059669",
    LifecycleStage.DORMANT: "#d97706",
    LifecycleStage.CHURN_RISK: "#dc2626",
    LifecycleStage.LOST: "#64748b",
}

# Darker is worth more.
TIER_COLOURS: dict[str, str] = {
    ValueTier.HIGH: "#1e40af",
    ValueTier.MEDIUM: "#3b82f6",
    ValueTier.LOW: "#93c5fd",
}
