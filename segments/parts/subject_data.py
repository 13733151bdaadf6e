"""Segments' rows in subject export and erasure (callcenter.services.privacy): metrics, buying
habits, reachability and memberships hold scores, dates and choices only, so erasure keeps them
(they are the aggregates) and the export finds them from the model metadata."""

from callcenter.services.privacy import SubjectData, subject_data_parts

SEGMENTS_SUBJECT_DATA = SubjectData(
    decisions={
        "segments.customermetrics.customer": "keep",
        # Buying habits: shares, hours, counts and the categories and channels the erased
        # orders keep too.
        "segments.customerbehaviour.customer": "keep",
        # Reachability: counts, shares, an hour and yes/no over the erased touches, no number
        # or address; the next reach pass recomputes the row from what erasure left (the
        # customer row changed) and deletes it once nothing is left or the customer is inactive.
        "segments.customerreach.customer": "keep",
        "segments.segmentmembership.customer": "keep",
    }
)


def register() -> None:
    """Add segments' erasure decisions (from SegmentsConfig.ready)."""
    subject_data_parts.register("segments", SEGMENTS_SUBJECT_DATA, order=10)
