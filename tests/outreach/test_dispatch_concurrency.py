"""Two dispatchers at once, each with its own database connection, against the loopback
gateway: every task is sent exactly once and the per-customer frequency cap holds.

The rows must be committed for the second connection to see them, but a transactional test
would flush the tables afterwards, losing rows that data migrations installed (roles,
built-in segments) for every later test under --reuse-db. So this module commits its rows
itself and deletes them afterwards; it deliberately carries no django_db mark.
"""

import threading

import time_machine
from django.db import connection

from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.services.dispatch import dispatch_due
from tests.outreach.factories import TaskFactory
from tests.outreach.gateway import Gateway
from tests.outreach.test_dispatch import DAYTIME, _customer


def test_two_dispatchers_at_once_send_each_task_once(http_sms: Gateway, committed: list) -> None:
    # given 40 due tasks, committed, five of them for one customer whose cap is three
    crowded = _customer()
    committed.append(crowded)
    tasks = [TaskFactory(customer=crowded, due_at=DAYTIME) for _ in range(5)]
    for _ in range(35):
        committed.append(_customer())
        tasks.append(TaskFactory(customer=committed[-1], due_at=DAYTIME))
    start = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            while True:
                counts = dispatch_due(limit=4, worker_id=name)
                results.append({**counts, "worker": name})
                if counts["claimed"] == 0:
                    break
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()

    # when two dispatchers, each with its own database connection, run at the same time
    with time_machine.travel(DAYTIME, tick=False):
        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert dispatch_due()["claimed"] == 0

    # then every task was sent exactly once, and the cap held across both
    assert errors == []
    statuses = [OutreachTask.objects.get(pk=task.pk).status for task in tasks]
    assert statuses.count(TaskStatus.SENT) == 38
    assert statuses.count(TaskStatus.SKIPPED) == 2
    assert len(http_sms.requests) == 38
    assert http_sms.delivery_count == 38
    assert sum(counts["sent"] for counts in results) == 38
    # and both dispatchers did share the work
    for name in ("w0", "w1"):
        assert sum(c["claimed"] for c in results if c["worker"] == name) > 0
