"""`make security`'s dependency audit: scripts/dependency_audit.py on canned pip-audit JSON
reports. A check that checked nothing never reports success; a vulnerability always fails."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "dependency_audit.py"
SUCCESS = "No known vulnerabilities found"
NOT_FOUND = "Dependency not found on PyPI and could not be audited"


def _skipped(name: str, version: str) -> dict[str, str]:
    """A package pip-audit could not audit, as its JSON report writes it."""
    return {"name": name, "skip_reason": f"{NOT_FOUND}: {name} ({version})"}


def _audited(name: str, version: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "version": version, "vulns": list(vulns)}


DJANGO_VULN = {
    "id": "PYSEC-2099-1",
    "fix_versions": ["5.2.99"],
    "aliases": ["CVE-2099-0001"],
    "description": "A made-up flaw for the test.",
}

REPORTS: dict[str, dict[str, Any]] = {
    "all_skipped": {
        "dependencies": [_skipped("amqp", "5.4.2"), _skipped("django", "5.2.8")],
        "fixes": [],
    },
    "some_skipped": {
        "dependencies": [_audited("amqp", "5.4.2"), _skipped("django", "5.2.8")],
        "fixes": [],
    },
    "vulnerable": {
        "dependencies": [_audited("amqp", "5.4.2"), _audited("django", "5.2.8", DJANGO_VULN)],
        "fixes": [],
    },
    "vulnerable_and_skipped": {
        "dependencies": [_skipped("amqp", "5.4.2"), _audited("django", "5.2.8", DJANGO_VULN)],
        "fixes": [],
    },
    "clean": {
        "dependencies": [_audited("amqp", "5.4.2"), _audited("django", "5.2.8")],
        "fixes": [],
    },
    "empty": {"dependencies": [], "fixes": []},
}


def _audit(
    tmp_path: Path, report: dict[str, Any] | str, *, required: str | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "pip-audit.json"
    path.write_text(report if isinstance(report, str) else json.dumps(report), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SECURITY_AUDIT_REQUIRED"}
    if required is not None:
        env["SECURITY_AUDIT_REQUIRED"] = required
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--report", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_nothing_audited_says_not_checked_and_why_never_success(tmp_path: Path) -> None:
    result = _audit(tmp_path, REPORTS["all_skipped"])

    assert result.returncode == 0, result.stderr
    assert f"NOT CHECKED: 2 of 2 packages could not be audited (pip-audit: {NOT_FOUND})" in (
        result.stdout
    )
    assert "Nothing was checked" in result.stdout
    assert SUCCESS not in result.stdout + result.stderr


def test_nothing_audited_fails_when_the_audit_is_required(tmp_path: Path) -> None:
    result = _audit(tmp_path, REPORTS["all_skipped"], required="1")

    assert result.returncode == 1
    assert "NOT CHECKED: 2 of 2" in result.stdout


def test_some_skipped_names_them_and_does_not_claim_success(tmp_path: Path) -> None:
    result = _audit(tmp_path, REPORTS["some_skipped"])

    assert result.returncode == 0
    assert "NOT CHECKED: 1 of 2 packages could not be audited" in result.stdout
    assert "Not audited: django" in result.stdout
    assert "The other 1 packages were audited; none has a known vulnerability." in result.stdout
    assert SUCCESS not in result.stdout
    assert _audit(tmp_path, REPORTS["some_skipped"], required="true").returncode == 1


@pytest.mark.parametrize("required", [None, "1"])
def test_a_vulnerability_fails_and_is_listed(tmp_path: Path, required: str | None) -> None:
    result = _audit(tmp_path, REPORTS["vulnerable"], required=required)

    assert result.returncode == 1
    assert "VULNERABLE: 1 known vulnerabilities in 1 of 2 packages" in result.stdout
    assert "django 5.2.8: PYSEC-2099-1 (CVE-2099-0001), fixed in: 5.2.99" in result.stdout
    assert SUCCESS not in result.stdout


def test_a_vulnerability_fails_even_when_other_packages_were_skipped(tmp_path: Path) -> None:
    result = _audit(tmp_path, REPORTS["vulnerable_and_skipped"])

    assert result.returncode == 1
    assert "VULNERABLE: 1 known vulnerabilities" in result.stdout
    assert "NOT CHECKED: 1 of 2" in result.stdout


@pytest.mark.parametrize("required", [None, "1"])
def test_everything_checked_and_clean_is_a_success(tmp_path: Path, required: str | None) -> None:
    result = _audit(tmp_path, REPORTS["clean"], required=required)

    assert result.returncode == 0
    assert result.stdout.strip() == f"{SUCCESS} in 2 packages."


def test_a_report_of_no_packages_checked_nothing(tmp_path: Path) -> None:
    result = _audit(tmp_path, REPORTS["empty"])

    assert "NOT CHECKED: 0 of 0" in result.stdout
    assert SUCCESS not in result.stdout
    assert _audit(tmp_path, REPORTS["empty"], required="1").returncode == 1


@pytest.mark.parametrize("report", ["", "{not json", '{"vulnerabilities": []}'])
def test_an_unreadable_report_is_an_error(tmp_path: Path, report: str) -> None:
    result = _audit(tmp_path, report)

    assert result.returncode == 2
    assert "AUDIT FAILED" in result.stderr
    assert SUCCESS not in result.stdout


def test_pip_audits_own_success_line_is_hidden_and_the_report_decides(tmp_path: Path) -> None:
    # given a stand-in for pip-audit that skips everything yet claims success, as the real
    # one does where its vulnerability service cannot be reached
    fake = tmp_path / "fake_pip_audit.py"
    fake.write_text(
        "import json, sys\n"
        "out = sys.argv[sys.argv.index('--output') + 1]\n"
        f"json.dump({REPORTS['all_skipped']!r}, open(out, 'w'))\n"
        "print('WARNING: a warning of its own', file=sys.stderr)\n"
        f"print({SUCCESS!r}, file=sys.stderr)\n",
        encoding="utf-8",
    )

    # when the script runs it
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--", sys.executable, str(fake), "-r", "constraints.txt"],
        capture_output=True,
        text=True,
        check=False,
    )

    # then its warnings pass through, its verdict does not
    assert result.returncode == 0, result.stderr
    assert "a warning of its own" in result.stderr
    assert SUCCESS not in result.stdout + result.stderr
    assert "NOT CHECKED: 2 of 2" in result.stdout


def test_a_failing_pip_audit_fails_the_audit(tmp_path: Path) -> None:
    fake = tmp_path / "broken_pip_audit.py"
    fake.write_text("import sys\nprint('cannot parse', file=sys.stderr)\nsys.exit(3)\n")

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--", sys.executable, str(fake)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "cannot parse" in result.stderr
    assert "AUDIT FAILED" in result.stderr


def test_make_security_runs_pip_audit_only_through_the_script() -> None:
    # `make -n` prints the recipe without running it.
    result = subprocess.run(
        ["make", "-n", "security"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    commands = result.stdout.replace("\\\n", " ").splitlines()
    audits = [line for line in commands if "pip-audit" in line]

    assert audits
    for line in audits:
        assert line.split()[1] == "scripts/dependency_audit.py", line
        assert "--" in line.split()
