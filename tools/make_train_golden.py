#!/usr/bin/python3
"""Golden files for the training engine: loss, every parameter's gradient,
and the parameters after two AdamW steps, computed with PyTorch autograd on
the reference forward (tools/bert_reference.py) for small random
BertForSequenceClassification models (dropout off).

    /usr/bin/python3 tools/make_train_golden.py [CASE ...]   (default: every case)

Writes tests/fixtures/train/<case>/ (a model directory) with golden.safetensors:
input_ids / token_type_ids / attention_mask (I32, right-padded), labels (F32),
loss (F32 [2], before step 1 and before step 2), grad1.<name>, step1.<name>,
step2.<name> (F32, Hugging Face names). The optimizer is torch.optim.AdamW
with Hugging Face's parameter groups (no decay for biases and LayerNorm),
get_linear_schedule_with_warmup, clip_grad_norm_(1.0).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_reference  # noqa: E402
import st_io  # noqa: E402
from make_fixtures import make_weights, stored_name, config_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = [
    dict(name="token", task="token", problem=None, labels=["O", "B-X", "I-X"], act="gelu", lengths=[6, 4, 8],
         warmup=0),
    dict(name="qa", task="qa", problem=None, labels=["LABEL_0", "LABEL_1"], act="gelu", lengths=[9, 12],
         targets=[[2, 4], [7, 7]], warmup=0),
    dict(name="pretraining", task="pretraining", problem=None, labels=None, act="gelu", lengths=[10, 7],
         targets=[0, 1], warmup=0),
    dict(name="single-label", problem="single_label_classification", labels=["a", "b", "c"], act="gelu",
         lengths=[5, 9, 3], targets=[2, 0, 1], warmup=1),
    dict(name="regression", problem="regression", labels=["LABEL_0"], act="gelu_new", lengths=[7, 4],
         targets=[0.5, -1.25], warmup=0),
    dict(name="multi-label", problem="multi_label_classification", labels=["x", "y", "z", "w"], act="relu",
         lengths=[6, 6, 2], targets=[[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]], warmup=0),
    # JointBERT: intent_classifier on the pooled [CLS] + the slot tagger; loss = CE(intent) + CE(slots)
    dict(name="dialogue", task="dialogue", problem=None, labels=["O", "B-X", "I-X"], act="gelu", lengths=[6, 4, 8],
         intents=["a", "b", "c", "d"], targets=[3, 0, 2], warmup=0),
    dict(name="dialogue-multi", task="dialogue", problem=None, labels=["O", "B-X", "I-X"], act="gelu", lengths=[5, 7, 3],
         intents=["a", "b", "c"], multi=True, targets=[[1, 0, 1], [0, 1, 0], [0, 0, 0]], warmup=0),
]
LR, WD, TOTAL = 1e-3, 0.01, 4


def main():
    torch.set_num_threads(1)
    for k, c in enumerate(CASES):
        if len(sys.argv) > 1 and c["name"] not in sys.argv[1:]:
            continue
        g = torch.Generator().manual_seed(500 + k)
        task = c.get("task", "sequence")
        arch, heads = {"sequence": ("BertForSequenceClassification", ["pooler", "classifier"]),
                       "token": ("BertForTokenClassification", ["classifier"]),
                       "qa": ("BertForQuestionAnswering", []),
                       "pretraining": ("BertForPreTraining", ["pooler", "mlm", "nsp"]),
                       "dialogue": ("BertForTokenClassification", ["pooler", "classifier"])}[task]
        s = dict(name=c["name"], L=2, C=32, NH=4, I=48, V=60, P=32, TV=2, act=c["act"], dtype="F32",
                 arch=arch, heads=heads, prefix=True)
        if c["labels"]:
            s["labels"] = c["labels"]
        sd = make_weights(s, g)
        if task == "qa":
            sd["qa_outputs.weight"] = torch.randn(2, 32, generator=g) * 0.3
            sd["qa_outputs.bias"] = torch.randn(2, generator=g) * 0.1
        if task == "dialogue":
            sd["intent_classifier.weight"] = torch.randn(len(c["intents"]), 32, generator=g) * 0.3
            sd["intent_classifier.bias"] = torch.randn(len(c["intents"]), generator=g) * 0.1
        d = os.path.join(ROOT, "tests", "fixtures", "train", c["name"])
        os.makedirs(d, exist_ok=True)
        cfg = config_for(s)
        if c["problem"]:
            cfg["problem_type"] = c["problem"]
        else:
            cfg.pop("problem_type", None)
        if task == "dialogue":
            cfg["intent_id2label"] = {str(i): x for i, x in enumerate(c["intents"])}
            cfg["intent_label2id"] = {x: i for i, x in enumerate(c["intents"])}
            cfg["intent_problem_type"] = "multi_label_classification" if c.get("multi") else "single_label_classification"
        cfg["hidden_dropout_prob"] = cfg["attention_probs_dropout_prob"] = 0.0
        json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
        names = {k2: stored_name(s, k2) for k2 in sd}
        st_io.save(os.path.join(d, "model.safetensors"), {names[k2]: v for k2, v in sd.items()}, {"format": "pt"})
        B, T = len(c["lengths"]), max(c["lengths"])
        ids = torch.randint(1, s["V"], (B, T), generator=g)
        types = torch.randint(0, 2, (B, T), generator=g)
        mask = torch.zeros(B, T, dtype=torch.int64)
        for b, n in enumerate(c["lengths"]):
            mask[b, :n] = 1
            ids[b, n:] = 0
            types[b, n:] = 0
        params = {k2: v.clone().requires_grad_(True) for k2, v in sd.items()}
        decay = [p for k2, p in params.items() if not (k2.endswith(".bias") or "LayerNorm" in k2)]
        no_decay = [p for k2, p in params.items() if k2.endswith(".bias") or "LayerNorm" in k2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=LR, betas=(0.9, 0.999), eps=1e-8)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda st, w=c["warmup"]: st / max(1, w) if st < w else max(0.0, (TOTAL - st) / max(1, TOTAL - w)))
        if task in ("token", "dialogue"):  # one class per real token, some -100
            tok = torch.randint(0, 3, (B, T), generator=g)
            for b, n in enumerate(c["lengths"]):
                tok[b, n:] = -100
            tok[0, 1] = -100
            tok[2, 0] = -100
            target = torch.cat([tok[b, :n] for b, n in enumerate(c["lengths"])]).float()
            if task == "dialogue":  # the intents first, then the slot tags
                target = torch.cat([torch.tensor(c["targets"], dtype=torch.float32).reshape(-1), target])
        elif task == "pretraining":  # MLM targets on a few real tokens, then NSP labels
            mlm = torch.full((B, T), -100)
            mlm[0, 2], mlm[0, 5], mlm[1, 1], mlm[1, 6] = 7, 13, 21, 59
            target = torch.cat([torch.cat([mlm[b, :n] for b, n in enumerate(c["lengths"])]).float(),
                                torch.tensor(c["targets"], dtype=torch.float32)])
        else:
            target = torch.tensor(c["targets"], dtype=torch.float32)
        out = {"input_ids": ids.int(), "token_type_ids": types.int(), "attention_mask": mask.int(),
               "labels": target.reshape(-1)}
        losses = []
        for step in (1, 2):
            opt.zero_grad()
            res = bert_reference.forward(cfg, params, ids, types, mask)
            if task == "token":
                lg = torch.cat([res["token_logits"][b, :n] for b, n in enumerate(c["lengths"])])
                loss = F.cross_entropy(lg, target.long(), ignore_index=-100)
            elif task == "dialogue":
                n_int = B * len(c["intents"]) if c.get("multi") else B
                lg = torch.cat([res["token_logits"][b, :n] for b, n in enumerate(c["lengths"])])
                il = F.linear(res["pooler_output"], params["intent_classifier.weight"], params["intent_classifier.bias"])
                if c.get("multi"):
                    intent_loss = F.binary_cross_entropy_with_logits(il, target[:n_int].reshape(B, -1))
                else:
                    intent_loss = F.cross_entropy(il, target[:n_int].long())
                loss = intent_loss + F.cross_entropy(lg, target[n_int:].long(), ignore_index=-100)
            elif task == "qa":
                loss = 0
                for k in range(2):  # start, end: CE over each sequence's real tokens
                    lg = res["qa_logits"][..., k].masked_fill(mask == 0, float("-inf"))
                    loss = loss + F.cross_entropy(lg, target[:, k].long()) / 2
            elif task == "pretraining":
                n_tok = sum(c["lengths"])
                lg = torch.cat([res["prediction_logits"][b, :n] for b, n in enumerate(c["lengths"])])
                loss = F.cross_entropy(lg, target[:n_tok].long(), ignore_index=-100) + \
                    F.cross_entropy(res["seq_relationship_logits"], target[n_tok:].long())
            elif c["problem"] == "regression":
                logits = res["logits"]
                loss = F.mse_loss(logits.squeeze(-1), target)
            elif c["problem"] == "multi_label_classification":
                loss = F.binary_cross_entropy_with_logits(res["logits"], target)
            else:
                loss = F.cross_entropy(res["logits"], target.long())
            loss.backward()
            losses.append(loss.item())
            if step == 1:
                for k2, p in params.items():
                    out[f"grad1.{names[k2]}"] = p.grad.detach().clone()
            torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
            opt.step()
            sched.step()
            for k2, p in params.items():
                out[f"step{step}.{names[k2]}"] = p.detach().clone()
        out["loss"] = torch.tensor(losses, dtype=torch.float32)
        out["warmup"] = torch.tensor([c["warmup"]], dtype=torch.float32)
        st_io.save(os.path.join(d, "golden.safetensors"), out)
        print(c["name"], losses, file=sys.stderr)


if __name__ == "__main__":
    main()
