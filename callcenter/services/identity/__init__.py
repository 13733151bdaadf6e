"""Identity resolution: finding likely duplicate customers and merging them.

The finder is a handful of set-based SQL statements over every active customer (no Python
loop, no cross join); it only proposes. A merge is always an explicit decision of a person
(`customer_merge` with the deciding user): it moves every row that points at the merged
customer to the survivor and leaves a `CustomerMerge` record and an audit entry behind.

Modules: `finder` (proposals from evidence), `evidence` (that evidence in words), `moves`
(re-pointing rows, and counting what would move), `merge` (one merge), `proposals` (deciding a
proposal). Their services are re-exported here.
"""

from callcenter.services.identity.evidence import evidence_in_words, reason_in_words
from callcenter.services.identity.finder import (
    CITY_MAX_NAME_CARRIERS,
    CITY_MAX_NAMESAKES,
    MAX_NAMESAKE_BLOCK,
    MAX_SHARED_VALUE_OWNERS,
    NAME_SIMILARITY_THRESHOLD,
    SIGNAL_WEIGHTS,
    DuplicateScan,
    merge_proposals_find_later,
    merge_proposals_refresh,
    merge_proposals_refresh_unless_running,
)
from callcenter.services.identity.merge import (
    FILLABLE_FIELDS,
    MERGED_EXTERNAL_SYSTEM,
    customer_merge,
)
from callcenter.services.identity.moves import MergePreview, merge_moves_preview
from callcenter.services.identity.proposals import merge_proposal_accept, merge_proposal_dismiss

__all__ = (
    "CITY_MAX_NAMESAKES",
    "CITY_MAX_NAME_CARRIERS",
    "FILLABLE_FIELDS",
    "MAX_NAMESAKE_BLOCK",
    "MAX_SHARED_VALUE_OWNERS",
    "MERGED_EXTERNAL_SYSTEM",
    "NAME_SIMILARITY_THRESHOLD",
    "SIGNAL_WEIGHTS",
    "DuplicateScan",
    "MergePreview",
    "customer_merge",
    "evidence_in_words",
    "merge_moves_preview",
    "merge_proposal_accept",
    "merge_proposal_dismiss",
    "merge_proposals_find_later",
    "merge_proposals_refresh",
    "merge_proposals_refresh_unless_running",
    "reason_in_words",
)
