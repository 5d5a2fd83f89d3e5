"""The users' claims across machines: each claim's ratio as a range over several runs of llm_backends.

A ratio that moves with the host (vLLM's step is partly host-bound) is worth quoting only as the range it
took on every machine that measured it. Each file is one machine's `llm_backends.json`, all measured with
the same compared arguments (model, batch sizes, lengths, dtype, samples, compile options); the claims are
answered again from each file's runs with today's rules. A claim reads confirmed or refuted only where
every machine that could compare it agrees; "split" names the machines of each side.

python -m benchmarks.llm_claims_across docs/results/llm_backends-h100-A.json docs/results/llm_backends-h100-B.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from benchmarks.common import script_parser
from benchmarks.llm_backends import COMPARED_ARGS, claims, fmt, read_results

DECIDED = ("confirmed", "refuted")


def machine_names(paths: Sequence[Path]) -> List[str]:
    """Each file's name without its suffix, or its whole path where two files share that name (as
    A/llm_backends.json and B/llm_backends.json do)."""
    stems = [path.stem for path in paths]
    return stems if len(set(stems)) == len(stems) else [str(path) for path in paths]


def load_runs(paths: Sequence[Path]) -> List[Tuple[str, Dict[str, Any]]]:
    """Each file's results by its machine name; an error names the file that is unreadable or not like the
    first."""
    loaded: List[Tuple[str, Dict[str, Any]]] = []
    for path, machine in zip(paths, machine_names(paths)):
        results = read_results(path)
        arguments, runs = results["args"], results["runs"]
        if loaded:
            first_name, first = loaded[0]
            for name in COMPARED_ARGS:
                if arguments.get(name) != first["args"].get(name):
                    raise SystemExit(
                        f"{path}: --{name.replace('_', '-')} was {arguments.get(name)!r}, {first_name} has "
                        f"{first['args'].get(name)!r}; machines are compared like for like only"
                    )
        if not runs:
            raise SystemExit(f"{path}: no backend ran")
        loaded.append((machine, results))
    return loaded


def across_machines(per_machine: Sequence[Tuple[str, List[Dict[str, Any]]]]) -> List[Dict[str, Any]]:
    """One row a claim: its ratio's range over the machines that could compare it, and one verdict."""
    rows = []
    for index, first in enumerate(per_machine[0][1]):
        answers = [(machine, rows_of_machine[index]) for machine, rows_of_machine in per_machine]
        decided = [(machine, row) for machine, row in answers if row["verdict"] in DECIDED]
        ratios = [row["ratio"] for _, row in decided]
        rows.append(
            {
                "claim": first["claim"],
                "measured": first["measured"],
                "ratios": {machine: row["ratio"] for machine, row in answers},
                "low": min(ratios) if ratios else None,
                "high": max(ratios) if ratios else None,
                "verdict": verdict_across(answers, decided),
            }
        )
    return rows


def verdict_across(answers: Sequence[Tuple[str, Dict[str, Any]]], decided: Sequence[Tuple[str, Dict[str, Any]]]) -> str:
    """Confirmed or refuted where the deciding machines agree (saying how many they are), split where they do
    not, not comparable where none could decide (with each machine's reason)."""
    reasons = "; ".join(
        f"{reason} on {', '.join(machines)}"
        for reason, machines in machines_by_verdict(row for row in answers if row[1]["verdict"] not in DECIDED).items()
    )
    if not decided:
        return reasons
    sides = machines_by_verdict(decided)
    if len(sides) > 1:
        verdict = "split: " + "; ".join(f"{side} on {', '.join(machines)}" for side, machines in sides.items())
    else:
        (side,) = sides
        verdict = f"{side} on {len(decided)} of {len(answers)} machines"
    return verdict + (f" ({reasons})" if reasons else "")


def machines_by_verdict(answers: Iterable[Tuple[str, Dict[str, Any]]]) -> Dict[str, List[str]]:
    grouped: Dict[str, List[str]] = {}
    for machine, row in answers:
        grouped.setdefault(row["verdict"], []).append(machine)
    return grouped


def ratio_range(low: Optional[float], high: Optional[float]) -> str:
    if low is None or high is None:
        return "-"
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)}-{fmt(high)}"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = script_parser(__doc__)
    parser.add_argument("results", nargs="+", type=Path, help="llm_backends.json of each machine")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    loaded = load_runs(args.results)
    per_machine = [(machine, claims(results["runs"], results["args"]["batch_sizes"])) for machine, results in loaded]
    machines = [machine for machine, _ in loaded]
    print(f"| claim | measured | ratio ({', '.join(machines)}) | range | verdict |\n|---|---|---|---|---|")
    for row in across_machines(per_machine):
        each = " / ".join(fmt(row["ratios"][machine]) for machine in machines)
        span = ratio_range(row["low"], row["high"])
        print(f"| {row['claim']} | {row['measured']} | {each} | {span} | {row['verdict']} |")


if __name__ == "__main__":
    main()
