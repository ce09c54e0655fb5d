"""Decide checkov's verdict from its JSON report and the one list of
justified skips (infra/checkov-skips.yaml):

- a failed check that the list does not name fails the gate;
- a listed check without a reason fails it;
- a listed check that no longer fails anything fails it (a stale skip).

    checkov-gate.py report.json checkov-skips.yaml
"""
import json
import sys

import yaml


def main(report_path, skips_path):
    raw = json.load(open(report_path))
    reports = raw if isinstance(raw, list) else [raw]
    if not reports or not any("results" in r for r in reports):
        print(f"checkov produced no report: {str(raw)[:300]}", file=sys.stderr)
        return 1
    failed = {}
    passed = 0
    for report in reports:
        results = report.get("results", {})
        passed += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            failed.setdefault(check["check_id"], set()).add(check["resource"])
    skips = yaml.safe_load(open(skips_path)) or []
    problems = []
    listed = {}
    for skip in skips:
        reason = (skip.get("why") or "").strip()
        if len(reason) < 20:
            problems.append(f"{skip.get('id')}: skipped without a reason")
        listed[skip.get("id")] = reason
    for check_id, resources in sorted(failed.items()):
        if check_id not in listed:
            problems.append(f"{check_id} fails on {', '.join(sorted(resources))} and is not in {skips_path}")
    for check_id in sorted(listed):
        if check_id not in failed:
            problems.append(f"{check_id} is skipped in {skips_path} but fails nothing: remove the skip")
    for problem in problems:
        print(f"checkov: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"checkov: {passed} checks passed, {len(failed)} skipped with reasons", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
