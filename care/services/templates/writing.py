"""Creating, changing and deleting message templates, each text checked first and audited."""

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.text import slugify
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.services.audit import audit_log_record
from care.models import MessageTemplate, TemplateVariant
from care.services.templates.checks import template_variants_check, template_variants_normalized


def _unique_slug(name: str, slug: str | None) -> str:
    if slug:
        if MessageTemplate.objects.filter(slug=slug).exists():
            raise ApplicationError(_("A template with slug %(slug)s exists.") % {"slug": slug})
        return slug
    base = slugify(name)[:100] or "template"
    candidate, counter = base, 2
    while MessageTemplate.objects.filter(slug=candidate).exists():
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


@transaction.atomic
def template_create(
    *,
    name: str,
    channel: str,
    variants: dict[str, dict[str, str]],
    slug: str | None = None,
    description: str = "",
    created_by: User | None = None,
) -> MessageTemplate:
    """Create a template with its texts, each checked first."""
    if not (name or "").strip():
        raise ApplicationError(_("The name must not be empty."))
    variants = template_variants_normalized(variants)
    template_variants_check(channel=channel, variants=variants)
    template = MessageTemplate.objects.create(
        name=name.strip(),
        slug=_unique_slug(name, slug),
        channel=channel,
        description=description,
    )
    TemplateVariant.objects.bulk_create(
        TemplateVariant(template=template, language=language, **texts)
        for language, texts in variants.items()
    )
    audit_log_record(
        actor=created_by,
        action="care_template.create",
        object_type="message_template",
        object_id=template.pk,
        data={"slug": template.slug, "languages": sorted(variants)},
    )
    return template


@transaction.atomic
def template_update(
    *,
    template: MessageTemplate,
    updated_by: User | None = None,
    name: str | None = None,
    description: str | None = None,
    variants: dict[str, dict[str, str]] | None = None,
) -> MessageTemplate:
    """Change a template; `variants`, when given, becomes its complete set of texts.

    The channel is fixed once created: steps rely on it (an SMS step needs an SMS template).
    """
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    changed: list[str] = []
    if name is not None:
        if not name.strip():
            raise ApplicationError(_("The name must not be empty."))
        template.name = name.strip()
        changed.append("name")
    if description is not None:
        template.description = description
        changed.append("description")
    if variants is not None:
        variants = template_variants_normalized(variants)
        template_variants_check(channel=template.channel, variants=variants)
        template.variants.exclude(language__in=list(variants)).delete()
        for language, texts in variants.items():
            TemplateVariant.objects.update_or_create(
                template=template, language=language, defaults=texts
            )
        changed.append("variants")
    template.save()
    audit_log_record(
        actor=updated_by,
        action="care_template.update",
        object_type="message_template",
        object_id=template.pk,
        data={"changed": changed},
    )
    return template


@transaction.atomic
def template_delete(*, template: MessageTemplate, deleted_by: User | None) -> None:
    """Delete a template that no rule step uses."""
    try:
        with transaction.atomic():
            template.delete()
    except ProtectedError as exc:
        raise ApplicationError(
            _("Template %(slug)s is used by care rule steps; change those first.")
            % {"slug": template.slug}
        ) from exc
    audit_log_record(
        actor=deleted_by,
        action="care_template.delete",
        object_type="message_template",
        object_id=template.pk,
        data={"slug": template.slug},
    )
