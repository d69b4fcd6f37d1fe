#!/usr/bin/env python3
"""The results table of bench/multitask_glue.sh: per task, the mean and
standard deviation over seeds of the best dev score, single-task vs each
multi-task arm, as Markdown.  Usage: tools/multitask_table.py results.jsonl"""
import json
import statistics
import sys
from collections import defaultdict

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
cells = defaultdict(list)
metric = {}
arms, tasks = [], []
for r in rows:
    arm = "single" if r["arm"] == "single" else "multi " + r["strategy"]
    if arm not in arms:
        arms.append(arm)
    if r["task"] not in tasks:
        tasks.append(r["task"])
    metric[r["task"]] = r["metric"]
    if r["value"] is not None:
        cells[(arm, r["task"])].append(100 * r["value"])


def fmt(v):
    if not v:
        return "–"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.1f} ± {sd:.1f} (n={len(v)})"


print("| arm | " + " | ".join(f"{t} ({metric[t]})" for t in tasks) + " |")
print("|---|" + "---|" * len(tasks))
for arm in arms:
    print(f"| {arm} | " + " | ".join(fmt(cells[(arm, t)]) for t in tasks) + " |")
