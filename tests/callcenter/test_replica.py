"""Read replica: optional, chosen explicitly by lag-tolerant reads, never written or migrated.

The replica of these tests is a second connection to the test database (what the settings'
TEST MIRROR does under a test runner). The test's rows live in its uncommitted transaction on
the primary connection, which the replica connection cannot see: that is how a test tells
which connection a read went to.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from callcenter.choices import ContactKind
from callcenter.db_routers import PrimaryReplicaRouter
from callcenter.models import ContactPoint, Customer
from callcenter.replica import REPLICA_ALIAS, read_alias
from callcenter.selectors.screenpop import screenpop_for_phone
from callcenter.services.customers import customer_create

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def replica(db: None) -> Iterator[str]:
    """A "replica" alias on a connection of its own to the test database."""
    settings_dict = {**connections[DEFAULT_DB_ALIAS].settings_dict, "ATOMIC_REQUESTS": False}
    connections.settings[REPLICA_ALIAS] = settings_dict
    # Connected here: the test case only refuses to open connections of aliases it was not
    # told about, and this alias did not exist when it started.
    connections[REPLICA_ALIAS].connect()
    try:
        yield REPLICA_ALIAS
    finally:
        connections[REPLICA_ALIAS].close()
        del connections[REPLICA_ALIAS]
        del connections.settings[REPLICA_ALIAS]


def test_without_a_replica_reads_stay_on_the_primary() -> None:
    assert read_alias() == DEFAULT_DB_ALIAS


def test_with_a_replica_lag_tolerant_reads_use_it(replica: str) -> None:
    assert read_alias() == REPLICA_ALIAS
    # ... and nothing else does: there is no implicit read routing.
    assert Customer.objects.all().db == DEFAULT_DB_ALIAS


def test_the_screenpop_card_is_read_from_the_replica(
    replica: str, django_assert_num_queries
) -> None:
    # given a caller written on the primary (not visible to the replica's connection) ...
    customer_create(name="On the primary", phones=["13800138000"])
    # ... and one only the replica's connection sees
    with transaction.atomic(using=replica):
        on_replica = Customer.objects.using(replica).create(name="On the replica")
        ContactPoint.objects.using(replica).create(
            customer=on_replica, kind=ContactKind.PHONE, value="+8613900139000", is_primary=True
        )

        # when / then: the card's one statement asks the replica
        with django_assert_num_queries(1, connection=connections[replica]):
            card = screenpop_for_phone(phone="139 0013 9000", full_contacts=True)
        assert card["known"] is True
        assert card["customer"]["name"] == "On the replica"
        assert [p["value"] for p in card["contact_points"]] == ["+8613900139000"]
        assert screenpop_for_phone(phone="13800138000", full_contacts=True)["known"] is False
        transaction.set_rollback(True, using=replica)


def test_rows_read_from_the_replica_are_saved_on_the_primary(replica: str) -> None:
    customer = customer_create(name="Primary")
    loaded = Customer(pk=customer.pk, name="Renamed")
    loaded._state.db = replica
    loaded._state.adding = False

    loaded.save(update_fields=["name"])

    assert Customer.objects.get(pk=customer.pk).name == "Renamed"


def test_the_router_never_migrates_the_replica_and_relates_rows_across() -> None:
    router = PrimaryReplicaRouter()
    assert router.allow_migrate(REPLICA_ALIAS, "callcenter") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "callcenter") is None
    assert router.db_for_read(Customer) is None
    assert router.db_for_write(Customer) == DEFAULT_DB_ALIAS
    primary, copy = Customer(name="a"), Customer(name="b")
    primary._state.db, copy._state.db = DEFAULT_DB_ALIAS, REPLICA_ALIAS
    assert router.allow_relation(primary, copy) is True


@pytest.mark.parametrize("url", ["", "postgres://reader@replica.internal:5432/crm"])
def test_database_replica_url_adds_the_replica_database(url: str) -> None:
    code = (
        "import json; from callcenter.settings import base; "
        "print(json.dumps({k: {'HOST': v['HOST'], 'USER': v['USER'], 'TEST': v.get('TEST')} "
        "for k, v in base.DATABASES.items()}))"
    )
    env = {**os.environ, "DATABASE_REPLICA_URL": url}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    databases = json.loads(result.stdout.strip().splitlines()[-1])

    if not url:
        assert REPLICA_ALIAS not in databases
    else:
        assert databases[REPLICA_ALIAS] == {
            "HOST": "replica.internal",
            "USER": "reader",
            "TEST": {"MIRROR": "default"},
        }
