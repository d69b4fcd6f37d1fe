#!/usr/bin/python3
"""PyTorch peer of bench_train.c: the same model directory, batch and
sequence, one training step = forward (tools/bert_reference.py, dropout as
the classifier uses none here) + cross-entropy + backward + AdamW; median
over --reps after one warm-up. --bf16: forward and loss under
torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's mixed precision
(bert.c's --dtype bf16 counterpart). --device cuda: the model, batch and
AdamW on the GPU (f32, TF32 off), each step timed to the GPU's end.
--task pretraining: BertForPreTraining instead, as transformers runs it
(the MLM logits of every token, the loss over the masked ones: every 7th,
its label its id; NSP labels alternating), heads created where missing."""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import bert_reference  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("model_dir")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--bf16", action="store_true")
ap.add_argument("--device", default="cpu")
ap.add_argument("--task", default="sequence", choices=["sequence", "pretraining"])
a = ap.parse_args()
dev = torch.device(a.device)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_num_threads(a.threads)
cfg, sd = bert_reference.load_model_dir(a.model_dir)
C = cfg["hidden_size"]
sd["pooler.dense.weight"] = sd.get("pooler.dense.weight", torch.randn(C, C) * 0.02)
sd["pooler.dense.bias"] = sd.get("pooler.dense.bias", torch.zeros(C))
pre = a.task == "pretraining"
if pre:
    V = cfg["vocab_size"]
    for k, v in {"cls.predictions.transform.dense.weight": torch.randn(C, C) * 0.02,
                 "cls.predictions.transform.dense.bias": torch.zeros(C),
                 "cls.predictions.transform.LayerNorm.weight": torch.ones(C),
                 "cls.predictions.transform.LayerNorm.bias": torch.zeros(C),
                 "cls.predictions.bias": torch.zeros(V),
                 "cls.seq_relationship.weight": torch.randn(2, C) * 0.02,
                 "cls.seq_relationship.bias": torch.zeros(2)}.items():
        sd.setdefault(k, v)
    sd.pop("cls.predictions.decoder.weight", None)  # tied to the word embeddings
    cfg["architectures"] = ["BertForPreTraining"]
else:
    sd["classifier.weight"] = torch.randn(2, C) * 0.02
    sd["classifier.bias"] = torch.zeros(2)
    cfg["architectures"] = ["BertForSequenceClassification"]
params = {k: v.clone().to(dev).requires_grad_(True) for k, v in sd.items()}
opt = torch.optim.AdamW(params.values(), lr=2e-5, weight_decay=0.01)
ids = (1000 + (torch.arange(a.batch * a.seq) * 7919) % 29000).view(a.batch, a.seq).to(dev)
types = torch.zeros_like(ids)
mask = torch.ones_like(ids)
labels = (torch.arange(a.batch) % 2).to(dev)
mlm_labels = torch.where(torch.arange(a.batch * a.seq).view(a.batch, a.seq).to(dev) % 7 == 3, ids, -100)


def step():
    opt.zero_grad()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.bf16):
        out = bert_reference.forward(cfg, params, ids, types, mask)
        if pre:
            loss = F.cross_entropy(out["prediction_logits"].float().view(-1, cfg["vocab_size"]), mlm_labels.view(-1),
                                   ignore_index=-100) + F.cross_entropy(out["seq_relationship_logits"].float(), labels)
        else:
            loss = F.cross_entropy(out["logits"].float(), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()


step()
ts = []
for _ in range(a.reps):
    t0 = time.perf_counter()
    step()
    ts.append((time.perf_counter() - t0) * 1e3)
print(f"pytorch{'-cuda' if dev.type == 'cuda' else ''}{'-bf16' if a.bf16 else '  '} train-step{' pretraining' if pre else ''} layers {cfg['num_hidden_layers']} threads {a.threads} batch {a.batch} seq {a.seq} "
      f"median_ms {statistics.median(ts):.1f} min_ms {min(ts):.1f}")
