"""Names of behaviour clusters, made of their traits, in the reader's language.

A refresh stores a cluster's name in English (`Cluster.label`, the cluster segment's name): the
stable form, the same whichever language the worker ran in. Pages show it in the active
language: the English name is read back into its traits (names are made from traits by one
rule, so the mapping is exact) and the name is made again from them. A name that is not one
this rule makes (a renamed cluster segment) is shown as it is.
"""

import itertools
import re
from functools import cache

from django.utils import translation
from django.utils.translation import gettext, gettext_lazy, pgettext

TRAIT_LABELS = {
    "recent": gettext_lazy("recent"),
    "lapsed": gettext_lazy("lapsed"),
    "frequent": gettext_lazy("frequent"),
    "occasional": gettext_lazy("occasional"),
    "high_spend": gettext_lazy("high spend"),
    "low_spend": gettext_lazy("low spend"),
    "in_touch": gettext_lazy("often in touch"),
    "complaint_prone": gettext_lazy("complaint-prone"),
}
_ADJECTIVE_TRAITS = ("recent", "lapsed", "frequent", "occasional")
_SUFFIX_TRAITS = ("in_touch", "complaint_prone")
# "3. Recent frequent high spenders (2)": the segment's number and a repeat counter are kept.
_DECORATED = re.compile(r"^(?P<number>\d+\. )?(?P<label>.*?)(?P<repeat> \(\d+\))?$")


def cluster_label(traits: list[str]) -> str:
    """A readable name made of the traits, e.g. "Recent frequent high spenders", in the active
    language (Chinese: 近期活跃、高频的高消费客户，经常联系)."""
    words = [str(TRAIT_LABELS[t]) for t in _ADJECTIVE_TRAITS if t in traits]
    extras = [str(TRAIT_LABELS[t]) for t in _SUFFIX_TRAITS if t in traits]
    if "high_spend" in traits:
        noun = gettext("high spenders")
    elif "low_spend" in traits:
        noun = gettext("low spenders")
    elif not words and not extras:
        return gettext("Average customers")
    else:
        noun = gettext("customers")
    label = noun
    if words:
        label = pgettext("cluster name: traits, then who", "%(traits)s %(noun)s") % {
            "traits": pgettext("cluster name: between traits", " ").join(words),
            "noun": noun,
        }
    if extras:
        label = pgettext("cluster name: name, then more traits", "%(name)s, %(traits)s") % {
            "name": label,
            "traits": pgettext("cluster name: between more traits", ", ").join(extras),
        }
    return label[:1].upper() + label[1:]


def _trait_sets() -> list[list[str]]:
    sets = []
    for recency, frequency, spend, in_touch, complaints in itertools.product(
        (None, "recent", "lapsed"),
        (None, "frequent", "occasional"),
        (None, "high_spend", "low_spend"),
        (None, "in_touch"),
        (None, "complaint_prone"),
    ):
        sets.append([t for t in (recency, frequency, spend, in_touch, complaints) if t])
    return sets


@cache
def _english_names() -> dict[str, tuple[str, ...]]:
    with translation.override("en"):
        return {cluster_label(traits): tuple(traits) for traits in _trait_sets()}


def cluster_name_display(name: str) -> str:
    """A stored cluster name (with its number or repeat counter, if any) in the active
    language; a name this module did not make comes back unchanged."""
    match = _DECORATED.match(name)
    traits = _english_names().get(match["label"]) if match else None
    if match is None or traits is None:
        return name
    return f"{match['number'] or ''}{cluster_label(list(traits))}{match['repeat'] or ''}"
