"""Create the role groups `admin`, `supervisor` and `agent` with their model permissions."""

from django.db import migrations

# Which permissions each role gets on this app's models (view/add/change/delete codenames).
ROLE_PERMISSIONS = {
    "admin": {
        "customer": "vacd",
        "contactpoint": "vacd",
        "consentchange": "va",
        "order": "vacd",
        "interaction": "vacd",
        "ticket": "vacd",
        "surveyresponse": "vacd",
        "mergeproposal": "vac",
        "customermerge": "va",
        "auditlog": "v",
        "importrun": "va",
    },
    "supervisor": {
        "customer": "vac",
        "contactpoint": "vac",
        "consentchange": "va",
        "order": "v",
        "interaction": "vac",
        "ticket": "vac",
        "surveyresponse": "v",
        "mergeproposal": "vac",
        "customermerge": "va",
        "auditlog": "v",
        "importrun": "va",
    },
    "agent": {
        "customer": "vac",
        "contactpoint": "vac",
        "consentchange": "va",
        "order": "v",
        "interaction": "vac",
        "ticket": "vac",
        "surveyresponse": "v",
    },
}
ACTIONS = {"v": "view", "a": "add", "c": "change", "d": "delete"}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("callcenter")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, models in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        codenames = [
            f"{ACTIONS[letter]}_{model}" for model, letters in models.items() for letter in letters
        ]
        permissions = Permission.objects.filter(
            content_type__app_label="callcenter", codename__in=codenames
        )
        group.permissions.add(*permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
