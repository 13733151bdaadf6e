"""Template builtins (settings TEMPLATES) for text the product generated: `generated` (a
default name: a playbook rule, a queue, the default calendar...) and `outcome` (an
interaction's outcome), in the active language."""

from django import template

from callcenter.generated import generated_text, interaction_outcome_text

register = template.Library()


@register.filter
def generated(text: str | None) -> str:
    """A default name in the active language (see callcenter.generated); a name a user typed
    stays as typed."""
    return generated_text(text or "")


@register.filter
def outcome(value: str | None) -> str:
    """An interaction's outcome: the label of a code (a call task's outcome), else as typed."""
    return interaction_outcome_text(value or "")
