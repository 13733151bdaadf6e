"""The training messages of the churn and value models (stored in English on their rows),
for callcenter.generated to show them in the reader's language."""

from callcenter.generated import generated_formats
from segments.services.churn import CHURN_MESSAGES
from segments.services.value_model import VALUE_MODEL_MESSAGES


def register() -> None:
    generated_formats.register("segments", (*CHURN_MESSAGES, *VALUE_MODEL_MESSAGES))
