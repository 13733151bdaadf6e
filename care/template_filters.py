"""The only tags and filters message templates may use (the builtins of care's own engine).

Django's default tags and filters are not loaded: no `{% load %}`, `{% include %}`,
`{% autoescape off %}`, `|safe` or `|escapejs`, nothing that reads files, settings or marks text
as safe. `if` is allowed so a text can leave out a missing ticket or order.
"""

from django.template import Library, defaultfilters, defaulttags

register = Library()

register.tag("if", defaulttags.do_if)

SAFE_FILTERS = (
    "default",
    "upper",
    "lower",
    "title",
    "capfirst",
    "truncatechars",
    "floatformat",
)
for _name in SAFE_FILTERS:
    register.filter(_name, getattr(defaultfilters, _name))
