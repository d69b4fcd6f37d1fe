#!/usr/bin/env python3
"""The ONNX Runtime peer for bench/compare.sh: MODEL_DIR/model.onnx (made by
bench/onnx_export.py) run by onnxruntime's CPU provider (PyPI, pinned in
tools/python-requirements.txt) with all graph optimizations on and the given
intra-op thread count; the same batches as bench_forward and
torch_forward.py, timed the same way (one warm-up, median of --reps).

    $(tools/pyenv.sh onnxruntime) bench/ort_forward.py MODEL_DIR [--threads N] [--seq 128] [--reps 10]
        [--batches 1,8] [--ragged FILE] [--check]

--check prints the first hidden values of batch 1 for a parity spot check;
--ragged FILE: one line of token ids per sequence, one batch padded to the
longest (attention mask).
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--ragged")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    with open(os.path.join(a.model_dir, "config.json")) as f:
        layers = json.load(f)["num_hidden_layers"]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(os.path.join(a.model_dir, "model.onnx"), so, providers=["CPUExecutionProvider"])
    print(f"onnxruntime {ort.__version__} forward, {layers} layer(s), seq {a.seq}, threads {a.threads}, {a.reps} reps")
    print(f"{'runtime':<8} {'layers':<8} {'threads':>8} {'batch':>8} {'median ms':>12} {'min ms':>12} {'tokens/s':>14}")
    rows = None
    if a.ragged:
        with open(a.ragged) as f:
            rows = [[int(x) for x in line.split()] for line in f if line.strip()]
    for B in [len(rows)] if rows else [int(b) for b in a.batches.split(",")]:
        T = max(len(r) for r in rows) if rows else a.seq
        ids = np.zeros((B, T), dtype=np.int64)
        mask = np.zeros((B, T), dtype=np.int64)
        if rows:
            for b, r in enumerate(rows):
                ids[b, :len(r)] = r
                mask[b, :len(r)] = 1
            tokens = sum(len(r) for r in rows)
        else:
            ids[:] = (1000 + (np.arange(B * T) * 7919) % 29000).reshape(B, T)
            mask[:] = 1
            tokens = B * T
        feeds = {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask}
        first = sess.run(["last_hidden_state"], feeds)[0]
        if a.check and B == 1:
            print("check", " ".join(f"{v:.5f}" for v in first.reshape(-1)[:4]))
        ts = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            sess.run(["last_hidden_state"], feeds)
            ts.append((time.perf_counter() - t0) * 1e3)
        med = statistics.median(ts)
        label = f"R{B}" if rows else str(B)
        print(f"{'onnxrt':<8} {layers:<8} {a.threads:>8} {label:>8} {med:>12.2f} {min(ts):>12.2f} "
              f"{tokens / (med / 1e3):>14.0f}")


if __name__ == "__main__":
    main()
