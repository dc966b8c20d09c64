"""`make audit`: known vulnerabilities in the installed dependencies (pip-audit).

pip-audit asks PyPI's JSON API about every installed package. CI reaches the package registries
only, and a registry can be down: if the service cannot be reached this prints a warning and
succeeds (a network outage is not a vulnerability); if it answers with any vulnerability, or
pip-audit fails for another reason, it fails.
"""

from __future__ import annotations

import json
import subprocess
import sys

UNREACHABLE = (
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Max retries exceeded",
    "NameResolutionError",
    "Temporary failure in name resolution",
    "Connection refused",
    "Network is unreachable",
    "timed out",
)
COMMAND = [
    sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off",
    "--format", "json", "--timeout", "30",
]  # fmt: skip


def vulnerable(report: dict) -> list[str]:
    """One line per vulnerable package: name, version, advisory ids, versions that fix it."""
    return [
        f"{dep['name']} {dep['version']}: "
        + ", ".join(
            f"{v['id']} (fixed in {', '.join(v['fix_versions']) or 'no release'})"
            for v in dep["vulns"]
        )  # fmt: skip
        for dep in report.get("dependencies", [])
        if dep.get("vulns")
    ]


def main() -> int:
    try:
        proc = subprocess.run(COMMAND, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        print("audit: WARNING: pip-audit timed out; dependencies NOT audited", file=sys.stderr)
        return 0
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        if any(marker in proc.stderr for marker in UNREACHABLE):
            print("audit: WARNING: the vulnerability service (PyPI) could not be reached; "
                  "dependencies NOT audited", file=sys.stderr)  # fmt: skip
            return 0
        print(f"audit: pip-audit failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return 1
    found = vulnerable(report)
    for line in found:
        print(f"audit: VULNERABLE {line}", file=sys.stderr)
    deps = report.get("dependencies", [])
    audited = sum(1 for dep in deps if "skip_reason" not in dep)
    print(f"audit: {audited} of {len(deps)} packages audited, {len(found)} vulnerable")
    if deps and not audited:  # a registry mirror without PyPI's JSON API answers "not found"
        print("audit: WARNING: the vulnerability service knew none of the packages (a mirror "
              "without PyPI's JSON API?); dependencies NOT audited", file=sys.stderr)  # fmt: skip
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
