#!/usr/bin/env python3
"""real_finetune_table.py — the markdown tables of tools/real_finetune_comparison.sh's runs:
per task, each starting point and learning rate with its dev curve (the metric at every
evaluation), best and final score, and the best learning rate's row per starting point.

    python3 tools/real_finetune_table.py RUNS > table.md        (standard library only)
    python3 tools/real_finetune_table.py RUNS --jsonl > docs/real_finetune_results.jsonl

Reads RUNS/TASK-MODEL/lr*/log.jsonl and report.json; a run still going shows its curve so far
and "running".
"""
import glob
import json
import os
import sys

TASKS = [("sst2", "SST-2 dev accuracy", "eval_accuracy"),
         ("conll2003", "CoNLL-2003 dev entity F1", "eval_f1"),
         ("squad", "SQuAD v1.1 dev F1 / EM (first 1,000 questions)", "eval_f1")]
MODELS = [("minilm", "all-MiniLM-L6-v2 (real, 22.7 M)"),
          ("mini", "bertc-mini (bundled, 4.4 M)"),
          ("random", "random init, MiniLM shape")]


def read_run(d, key):
    curve, report = [], None
    log = os.path.join(d, "log.jsonl")
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                r = json.loads(line)
                if key in r:
                    em = r.get("eval_exact_match")
                    curve.append((r["step"], r[key], em))
    rep = os.path.join(d, "report.json")
    if os.path.exists(rep):
        with open(rep) as f:
            report = json.load(f)
    return curve, report


def cell(v, em):
    return f"{100 * v:.1f}" if em is None else f"{v:.1f} / {em:.1f}" if v > 1 else f"{100 * v:.1f} / {100 * em:.1f}"


def main():
    runs = sys.argv[1]
    jsonl = "--jsonl" in sys.argv[2:]
    for task, title, key in TASKS:
        rows, best = [], {}
        for model, name in MODELS:
            dirs = glob.glob(os.path.join(runs, f"{task}-{model}", "lr*"))
            for d in sorted(dirs, key=lambda d: float(os.path.basename(d).split("-ep")[0][2:])):
                lr = os.path.basename(d).split("-ep")[0][2:]
                curve, report = read_run(d, key)
                if not curve:
                    continue
                top = max(curve, key=lambda c: c[1])
                final = curve[-1]
                status = "" if report else " (running)"
                rows.append((name, lr, curve, top, final, status))
                if jsonl and report:
                    print(json.dumps({"task": task, "start": model, "lr": float(lr), "metric": key[5:],
                                      "curve": [{"step": c[0], key[5:]: c[1], **({"exact_match": c[2]} if c[2] is not None else {})}
                                                for c in curve], "seconds": report.get("seconds")}))
                if report and (model not in best or top[1] > best[model][3][1]):
                    best[model] = rows[-1]
        if not rows or jsonl:
            continue
        steps = sorted({c[0] for r in rows for c in r[2]})
        print(f"#### {title}\n")
        print("| starting point | lr | " + " | ".join(f"step {s:,}" for s in steps) + " | best (step) |")
        print("|---|---|" + "---:|" * (len(steps) + 1))
        for name, lr, curve, top, final, status in rows:
            at = {c[0]: cell(c[1], c[2]) for c in curve}
            print(f"| {name} | {lr}{status} | " + " | ".join(at.get(s, "") for s in steps) +
                  f" | **{cell(top[1], top[2])}** ({top[0]:,}) |")
        print()
        if best:
            print("Best learning rate per starting point: " + "; ".join(
                f"{r[0]} {r[1]}: {cell(r[3][1], r[3][2])}" for r in best.values()) + ".\n")


if __name__ == "__main__":
    main()
