"""Identity resolution: finding likely duplicate customers and merging them.

The finder is a handful of set-based SQL statements over every active customer (no Python
loop, no cross join); it only proposes. A merge is always an explicit decision of a person
(`customer_merge` with the deciding user): it moves every row that points at the merged
customer to the survivor and leaves a `CustomerMerge` record and an audit entry behind.

Modules: `finder` (proposals from evidence), `moves` (re-pointing rows), `merge` (one merge),
`proposals` (deciding a proposal). Their services are re-exported here.
"""

from callcenter.services.identity.finder import (
    CITY_MAX_NAME_CARRIERS,
    CITY_MAX_NAMESAKES,
    MAX_NAMESAKE_BLOCK,
    MAX_SHARED_VALUE_OWNERS,
    NAME_SIMILARITY_THRESHOLD,
    SIGNAL_WEIGHTS,
    DuplicateScan,
    merge_proposals_refresh,
)
from callcenter.services.identity.merge import (
    FILLABLE_FIELDS,
    MERGED_EXTERNAL_SYSTEM,
    customer_merge,
)
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
    "customer_merge",
    "merge_proposal_accept",
    "merge_proposal_dismiss",
    "merge_proposals_refresh",
)
