"""Audit the pinned packages with pip-audit and say honestly what was checked.

`make security` calls this script. pip-audit prints "No known vulnerabilities found" even when it
could audit none of the packages (where its vulnerability service cannot be reached, every
package is skipped as "not found"). This script runs pip-audit with a JSON report, hides that
summary, and reads the report instead:

- a known vulnerability in any audited package: lists them and exits 1;
- packages that could not be audited: prints "NOT CHECKED: N of M packages could not be
  audited (reason)" and never the word of success; exits 0, or 1 when the audit is required
  (SECURITY_AUDIT_REQUIRED=1, e.g. in a CI that can reach the service);
- every package audited, none vulnerable: "No known vulnerabilities found in M packages".
- no readable report (pip-audit failed): its error, exit 2.

Usage:
    python scripts/dependency_audit.py -- PIP_AUDIT_COMMAND [ARGUMENTS...]
    python scripts/dependency_audit.py --report FILE

The first form runs the pip-audit command given (adding `--format json --output ...`); the
second reads a pip-audit JSON report written earlier.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

OK, VULNERABLE, ERROR = 0, 1, 2
REQUIRED_VARIABLE = "SECURITY_AUDIT_REQUIRED"
TRUE_WORDS = {"1", "true", "yes", "on"}
# pip-audit's own verdict, printed whatever it could check; this script gives the real one.
PIP_AUDIT_SUMMARY = re.compile(r"^(No known vulnerabilities found|Found \d+ known vulnerabilit)")
# A skip reason ends with the package, e.g. "...could not be audited: django (5.2)".
_PACKAGE_SUFFIX = re.compile(r":\s*[A-Za-z0-9._-]+ \([^)]*\)\s*$")
# How many skipped packages are named when only some could not be audited.
NAMES_SHOWN = 20


class ReportError(Exception):
    """The pip-audit report is missing or not the JSON pip-audit writes."""


@dataclass
class Verdict:
    """What the audit checked and found."""

    total: int = 0
    audited: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    vulnerabilities: list[str] = field(default_factory=list)

    @property
    def vulnerable_packages(self) -> int:
        return len({line.split(" ", 1)[0] for line in self.vulnerabilities})


def verdict_from_report(report: object) -> Verdict:
    """Read pip-audit's JSON report (`{"dependencies": [...], "fixes": [...]}`)."""
    if not isinstance(report, dict) or not isinstance(report.get("dependencies"), list):
        raise ReportError('not a pip-audit JSON report (no "dependencies" list)')
    verdict = Verdict()
    for dependency in report["dependencies"]:
        if not isinstance(dependency, dict) or not isinstance(dependency.get("name"), str):
            raise ReportError(f"unexpected dependency entry: {dependency!r}")
        verdict.total += 1
        name = dependency["name"]
        if "skip_reason" in dependency:
            verdict.skipped[name] = str(dependency["skip_reason"])
            continue
        version = dependency.get("version", "?")
        vulns = dependency.get("vulns")
        if not isinstance(vulns, list):
            raise ReportError(f"{name}: neither skipped nor audited (no vulns list)")
        verdict.audited.append(name)
        for vuln in vulns:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            known_as = f" ({aliases})" if aliases else ""
            verdict.vulnerabilities.append(
                f"{name} {version}: {vuln.get('id', '?')}{known_as}, fixed in: {fixes}"
            )
    return verdict


def _reasons(skipped: dict[str, str]) -> str:
    """The distinct skip reasons without the package names, the most common first."""
    counts = Counter(_PACKAGE_SUFFIX.sub("", reason).strip() for reason in skipped.values())
    if len(counts) == 1:
        return f"pip-audit: {next(iter(counts))}"
    return "pip-audit: " + "; ".join(
        f"{count} x {reason}" for reason, count in counts.most_common()
    )


def verdict_lines(verdict: Verdict) -> list[str]:
    """The lines to print, worst news first; success is said only when everything was checked."""
    lines = []
    if verdict.vulnerabilities:
        lines.append(
            f"VULNERABLE: {len(verdict.vulnerabilities)} known vulnerabilities in "
            f"{verdict.vulnerable_packages} of {verdict.total} packages:"
        )
        lines += [f"  {line}" for line in verdict.vulnerabilities]
    if verdict.skipped or verdict.total == 0:
        skipped = len(verdict.skipped)
        lines.append(
            f"NOT CHECKED: {skipped} of {verdict.total} packages could not be audited "
            f"({_reasons(verdict.skipped) or 'pip-audit listed no packages'})"
        )
        if verdict.total and skipped == verdict.total:
            lines.append(
                "  Nothing was checked for known vulnerabilities: pip-audit's vulnerability "
                "service (PyPI) is probably not reachable from this machine."
            )
        elif skipped:
            names = sorted(verdict.skipped)
            more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
            lines.append(f"  Not audited: {', '.join(names[:NAMES_SHOWN])}{more}")
            if not verdict.vulnerabilities:
                lines.append(
                    f"  The other {len(verdict.audited)} packages were audited; none has a known "
                    "vulnerability."
                )
    elif not verdict.vulnerabilities:
        lines.append(f"No known vulnerabilities found in {verdict.total} packages.")
    return lines


def exit_code(verdict: Verdict, *, required: bool) -> int:
    """1 for a vulnerability, or for anything unchecked when the audit is required; else 0."""
    if verdict.vulnerabilities:
        return VULNERABLE
    unchecked = bool(verdict.skipped) or verdict.total == 0
    return VULNERABLE if unchecked and required else OK


def _required() -> bool:
    return os.environ.get(REQUIRED_VARIABLE, "").strip().lower() in TRUE_WORDS


def _run_pip_audit(command: list[str], report: Path) -> None:
    """Run the pip-audit `command` writing its JSON report to `report`; pass its messages on,
    except its own verdict. A vulnerability makes pip-audit exit 1 and is read from the report;
    any other failure is an error."""
    command = [*command, "--format", "json", "--output", str(report)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ReportError(f"cannot run {command[0]}: {exc}") from exc
    for line in result.stderr.splitlines():
        if not PIP_AUDIT_SUMMARY.match(line):
            print(line, file=sys.stderr)
    if result.returncode not in (0, 1):
        raise ReportError(f"pip-audit failed with status {result.returncode}")


def _read(report: Path) -> object:
    try:
        return json.loads(report.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"pip-audit wrote no report at {report}") from exc
    except (OSError, ValueError) as exc:
        raise ReportError(f"unreadable pip-audit report {report}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, help="read this pip-audit JSON report")
    parser.add_argument("command", nargs="*", help="the pip-audit command and its arguments")
    args = parser.parse_args(argv)
    if (args.report is None) == (not args.command):
        parser.error("give either --report FILE or, after --, the pip-audit command")
    try:
        if args.report is not None:
            report = _read(args.report)
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "pip-audit.json"
                _run_pip_audit(args.command, path)
                report = _read(path)
        verdict = verdict_from_report(report)
    except ReportError as exc:
        print(f"AUDIT FAILED: {exc}", file=sys.stderr)
        return ERROR
    for line in verdict_lines(verdict):
        print(line)
    return exit_code(verdict, required=_required())


if __name__ == "__main__":
    sys.exit(main())
