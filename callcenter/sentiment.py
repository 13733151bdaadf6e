"""Sentiment of free text in Chinese or English, from models that ship inside their packages.

Chinese text goes to SnowNLP (a naive Bayes model trained on Chinese reviews); other text to
VADER (a lexicon for English). Both run offline. Scores are mapped to -1 (very negative) .. 1.
"""

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _vader() -> "SentimentIntensityAnalyzer":
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_score(text: str) -> float | None:
    """Return the sentiment of `text` in [-1, 1], or None when there is nothing to judge."""
    text = (text or "").strip()
    if not text:
        return None
    if _CJK.search(text):
        from snownlp import SnowNLP

        positive_probability = SnowNLP(text).sentiments
        return round(2 * positive_probability - 1, 4)
    return round(_vader().polarity_scores(text)["compound"], 4)
