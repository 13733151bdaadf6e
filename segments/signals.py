"""Signals of the segmentation engine.

`segment_memberships_changed` is sent inside the refresh transaction after memberships were
applied, with `run_id`; the care app turns the entries and exits of that run
(SegmentMembership.entered_run / exited_run) into `segment_entered` / `segment_exited` events
set-based, so the announcement costs one statement however many customers moved.
"""

from django.dispatch import Signal

segment_memberships_changed = Signal()
