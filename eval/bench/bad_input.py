"""Time of each bad input of issue 13 through the in-process pipeline, as a markdown table.

The inputs are the ones tests/reading/test_bad_input_reading.py pins a result for: a template with
empty fields, a one-word note, a one-word goal, a goal in Spanish, a plan of 30 goals, a
note of 100,000 characters, and one character more (refused). Each figure is the median of
`--rounds` timed calls after one warm-up call of any note (which loads the models). Goal
texts are embedded on the first call and cached after it, as a service caches a plan's
goals across its notes; segments are embedded on every call.

    python eval/bench/bad_input.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the inputs come from the tests that pin their results

from casenotes.errors import CasenotesError  # noqa: E402
from casenotes.schema import DEFAULT_MAX_NOTE_CHARS, Goal, Plan  # noqa: E402
from tests.reading.test_bad_input_reading import HOUSING_NOTE, PLAN, THIRTY_GOALS, visit_notes  # noqa: E402

SOAP_TEMPLATE = "Subjective:\nObjective:\nAssessment:\nPlan:\nRisk: SI/HI:\nMSE: Mood: Affect:"


def one_goal(text: str) -> Plan:
    return Plan(goals=(Goal(goal_id="G1", text=text, domain="housing"),))


def inputs() -> list[tuple[str, str, Plan]]:
    thirty = Plan(goals=tuple(Goal(goal_id=f"G{i:02d}", text=text, domain=domain)
                              for i, (text, domain) in enumerate(THIRTY_GOALS, start=1)))
    return [
        ("template with empty fields (SOAP)", SOAP_TEMPLATE, PLAN),
        ("one-word note (\"Cancelled.\")", "Cancelled.", PLAN),
        ("one-word goal (\"Housing\")", HOUSING_NOTE, one_goal("Housing")),
        ("goal in Spanish", HOUSING_NOTE, one_goal("Conseguir una vivienda estable y pagar el depósito antes de junio")),
        ("plan of 30 goals", HOUSING_NOTE, thirty),
        (f"note of {DEFAULT_MAX_NOTE_CHARS:,} characters", visit_notes(DEFAULT_MAX_NOTE_CHARS), PLAN),
        (f"note of {DEFAULT_MAX_NOTE_CHARS + 1:,} characters", visit_notes(DEFAULT_MAX_NOTE_CHARS + 1), PLAN),
    ]


def outcome(pipeline, text: str, plan: Plan) -> tuple[str, int | str]:
    """What the pipeline answers, in a few words, and the note's segment count."""
    try:
        result = pipeline.score(text, plan)
    except CasenotesError as error:
        return f"refused: {type(error).__name__} ({error.code})", "–"
    statuses = Counter(g.status for g in result.goals)
    goals = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items(), key=lambda kv: -kv[1]))
    return f"{goals}; {len(result.domains)} domains; {len(result.flags)} flags", len(result.segments)


def median_ms(pipeline, text: str, plan: Plan, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        try:
            pipeline.score(text, plan)
        except CasenotesError:
            pass  # the refusal is what is timed
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from casenotes.pipeline import Pipeline

    pipeline = Pipeline.load()
    pipeline.score(HOUSING_NOTE, PLAN)  # warm-up: loads the tokenizers, rules and encoder
    print(f"{date.today()} · {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
          f"{pipeline.model_version} · median of {args.rounds} calls, ms\n")
    print("| input | characters | goals | segments | result | ms |")
    print("|---|---:|---:|---:|---|---:|")
    for name, text, plan in inputs():
        result, segments = outcome(pipeline, text, plan)
        ms = median_ms(pipeline, text, plan, args.rounds)
        print(f"| {name} | {len(text):,} | {len(plan.goals)} | {segments} | {result} | {ms:,.0f} |")


if __name__ == "__main__":
    main()
