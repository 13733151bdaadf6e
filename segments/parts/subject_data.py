"""Segments' rows in subject export and erasure (callcenter.services.privacy): metrics, buying
habits and memberships hold scores, dates and choices only, so erasure keeps them (they are the
aggregates) and the export finds them from the model metadata."""

from callcenter.services.privacy import SubjectData, subject_data_parts

SEGMENTS_SUBJECT_DATA = SubjectData(
    decisions={
        "segments.customermetrics.customer": "keep",
        # Buying habits: shares, hours, counts and the categories and channels the erased
        # orders keep too.
        "segments.customerbehaviour.customer": "keep",
        "segments.segmentmembership.customer": "keep",
    }
)


def register() -> None:
    """Add segments' erasure decisions (from SegmentsConfig.ready)."""
    subject_data_parts.register("segments", SEGMENTS_SUBJECT_DATA, order=10)
