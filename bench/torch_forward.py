#!/usr/bin/python3
"""The PyTorch peer for bench/compare.sh: the same model directory, the same
batches, timed the same way (one warm-up, median of --reps).

transformers is not installable on this machine (no PyPI), so the model is
tools/bert_reference.py: eager PyTorch doing BertModel's operations
(F.linear, F.layer_norm, matmul + softmax attention) — the computation of
transformers' eager attention path.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import bert_reference  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (f32, TF32 off; timings synchronise the GPU)")
    ap.add_argument("--transformers", action="store_true",
                    help="time transformers' BertModel (from_pretrained on the directory, its default attention) "
                         "instead of tools/bert_reference.py")
    ap.add_argument("--half", action="store_true", help="with --transformers on --device cuda: BertModel in "
                                                         "float16 (.half(): every op, as TEI runs it on a GPU)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the forward (PyTorch 2; static shapes, "
                                                           "one compile per shape in its warm-up)")
    ap.add_argument("--ragged", help="one line of token ids per sequence: one batch, padded to the longest "
                                     "with an attention mask, as transformers' padding=True does")
    a = ap.parse_args()
    if a.half and (not a.transformers or a.device != "cuda"):
        sys.exit("torch_forward.py: --half is for --transformers on --device cuda")
    torch.set_num_threads(a.threads)
    cfg, sd = bert_reference.load_model_dir(a.model_dir)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        sd = {k: v.to(dev) for k, v in sd.items()}
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if a.transformers:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory: never the network
        from transformers import BertModel
        hf = BertModel.from_pretrained(a.model_dir).to(dev).eval()
        if a.half:
            hf = hf.half()

        def forward(ids, types, mask):
            return hf(input_ids=ids, token_type_ids=types, attention_mask=mask).pooler_output
    else:
        def forward(ids, types, mask):
            return bert_reference.forward(cfg, sd, ids, types, mask)
    if a.compile:
        if not hasattr(torch, "compile"):
            sys.exit(f"torch_forward.py: --compile needs PyTorch 2 (this is {torch.__version__})")
        forward = torch.compile(forward, dynamic=False)  # one graph per shape, as each is timed
    what = (("transformers BertModel" + (" float16" if a.half else "")) if a.transformers else "bert_reference") + \
        (", torch.compile" if a.compile else ", eager")
    print(f"pytorch {torch.__version__} forward ({what}), {cfg['num_hidden_layers']} layer(s), seq {a.seq}, "
          f"threads {a.threads}, {a.reps} reps")
    print(f"{'runtime':<8} {'layers':<8} {'threads':>8} {'batch':>8} {'median ms':>12} {'min ms':>12} {'tokens/s':>14}")
    shapes = [int(b) for b in a.batches.split(",")] if not a.ragged else ["ragged"]
    for B in shapes:
        if a.ragged:
            rows = [[int(x) for x in line.split()] for line in open(a.ragged) if line.strip()]
            T = max(len(r) for r in rows)
            ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])
            tokens, label = sum(len(r) for r in rows), f"R{len(rows)}"
        else:
            ids = (1000 + (torch.arange(B * a.seq) * 7919) % 29000).view(B, a.seq)
            mask = torch.ones_like(ids)
            tokens, label = B * a.seq, str(B)
        types = torch.zeros_like(ids)
        ids, types, mask = ids.to(dev), types.to(dev), mask.to(dev)
        with torch.inference_mode():
            forward(ids, types, mask)
            sync()
            ts = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                forward(ids, types, mask)
                sync()
                ts.append((time.perf_counter() - t0) * 1e3)
        med = statistics.median(ts)
        print(f"{'pytorch':<8} {cfg['num_hidden_layers']:<8} {a.threads:>8} {label:>8} {med:12.2f} {min(ts):12.2f} "
              f"{tokens / (med / 1e3):14.0f}")


if __name__ == "__main__":
    main()
