"""Message templates: per-language texts checked when saved, rendered safely at send time.

Texts are Django templates parsed by a dedicated engine (`ENGINE`) that knows only `{% if %}`
and a few harmless filters (care/template_filters.py). Every placeholder must name one of
`PLACEHOLDERS`; those a customer may lack (`NEEDS_FALLBACK`) need a fallback or an `{% if %}`.
The context is built from plain dicts and strings (never model instances), so neither a
placeholder nor a filter argument can reach a model attribute, a method or a setting.
Email bodies are rendered with autoescape on (a customer named `<script>` stays inert in the
HTML); SMS texts and call scripts are plain text, escaped by whatever page later shows them.

Modules: `checks` (the engine and what a text may contain), `writing` (create, update, delete),
`rendering` (contexts, rendering and previews), `links` (the web links of a rendered text, which
outreach sends as tracked links). Their names are re-exported here; a test that replaces one
must patch the module that uses it.
"""

from care.services.templates.checks import (
    ENGINE,
    MAX_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    NEEDS_FALLBACK,
    PLACEHOLDERS,
    template_placeholders,
    template_text_check,
    template_variants_check,
)
from care.services.templates.links import (
    SAMPLE_SURVEY_TOKEN,
    SAMPLE_TOKEN,
    message_links,
    message_links_replace,
    message_links_sample,
    survey_link_sample,
    survey_link_url,
    tracked_link_url,
)
from care.services.templates.rendering import (
    MAX_RENDERED_BODY_LENGTH,
    OPT_OUT_HINTS,
    ContextRows,
    RenderedMessage,
    customer_timezone,
    template_context,
    template_context_rows,
    template_preview,
    template_render,
    templates_placeholders,
)
from care.services.templates.writing import template_create, template_delete, template_update

__all__ = (
    "ENGINE",
    "MAX_BODY_LENGTH",
    "MAX_RENDERED_BODY_LENGTH",
    "MAX_SUBJECT_LENGTH",
    "OPT_OUT_HINTS",
    "NEEDS_FALLBACK",
    "PLACEHOLDERS",
    "SAMPLE_SURVEY_TOKEN",
    "SAMPLE_TOKEN",
    "ContextRows",
    "RenderedMessage",
    "customer_timezone",
    "message_links",
    "message_links_replace",
    "message_links_sample",
    "template_context",
    "template_context_rows",
    "template_create",
    "template_delete",
    "template_placeholders",
    "template_preview",
    "template_render",
    "template_text_check",
    "template_update",
    "survey_link_sample",
    "survey_link_url",
    "template_variants_check",
    "templates_placeholders",
    "tracked_link_url",
)
