"""Markdown tables of checks against committed baselines: what each machine's reports judged, per metric.

Each argument is LABEL=REPORT[,REPORT...] (the JSON reports of one machine, one per backend, as
`scripts/gpu_suite_reports.sh` writes them). Prints, per machine, the time of its first
report, the count of verdicts per metric group and status, and every verdict that is not
`unchanged`, `info` or `unavailable`; then `gpu_time`'s change per test on every machine.
Groups: `gpu_time`, exact counts, memory, one-shot durations, and the host-bound rest (latency,
TTFT, TPOT and the rates derived from them).

    PYTHONPATH=. python scripts/check_tables.py C=c-eager.json,c-inductor.json D=d-eager.json,d-inductor.json
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path
from typing import Dict, List, Tuple

from pytest_aotperf.metrics import Metric
from pytest_aotperf.results import RunReport, load_report
from pytest_aotperf.verdict import INFO, UNAVAILABLE, UNCHANGED, Verdict

QUIET = (UNCHANGED, INFO, UNAVAILABLE)


def group_of(metric: Metric) -> str:
    if metric.name.endswith("gpu_time"):
        return "gpu_time"
    return {"count": "exact count", "memory": "memory", "duration": "duration"}.get(metric.kind, "host-bound timing")


def verdicts_of(reports: List[RunReport]) -> List[Tuple[str, Metric, Verdict]]:
    return [
        (test.test.name, metric, verdict)
        for report in reports
        for test in report.tests
        for verdict in test.verdicts
        for metric in [test.metric(verdict.metric)]
        if metric is not None
    ]


def change(verdict: Verdict) -> str:
    return f"{verdict.change:+.1%}" if verdict.change is not None else "-"


def machine_tables(label: str, reports: List[RunReport]) -> List[str]:
    judged = verdicts_of(reports)
    counts = collections.Counter((group_of(metric), verdict.status) for _, metric, verdict in judged)
    lines = [f"#### Machine {label} (first report {reports[0].environment.get('time', '?')})", ""]
    lines += ["| metric group | status | verdicts |", "|---|---|---|"]
    lines += [f"| {group} | {status} | {count} |" for (group, status), count in sorted(counts.items())]
    lines += ["", "| test | metric | change | verdict |", "|---|---|---|---|"]
    lines += [
        f"| {test} | {verdict.metric} | {change(verdict)} | {verdict.status} |"
        for test, _, verdict in judged
        if verdict.status not in QUIET
    ]
    return lines + [""]


def gpu_time_table(machines: Dict[str, List[RunReport]]) -> List[str]:
    changes: Dict[str, Dict[str, str]] = collections.defaultdict(dict)
    for label, reports in machines.items():
        for test, metric, verdict in verdicts_of(reports):
            if group_of(metric) == "gpu_time":
                changes[test][label] = f"{change(verdict)} {verdict.status}"
    header = "| test | " + " | ".join(f"gpu_time, machine {label}" for label in machines) + " |"
    lines = [header, "|---|" + "---|" * len(machines)]
    lines += [
        f"| {test} | " + " | ".join(row.get(label, "-") for label in machines) + " |"
        for test, row in sorted(changes.items())
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("machines", nargs="+", metavar="LABEL=REPORT[,REPORT...]")
    args = parser.parse_args()
    machines = {}
    for argument in args.machines:
        label, _, paths = argument.partition("=")
        machines[label] = [load_report(Path(path)) for path in paths.split(",")]
    for label, reports in machines.items():
        print("\n".join(machine_tables(label, reports)))
    print("\n".join(gpu_time_table(machines)))


if __name__ == "__main__":
    main()
