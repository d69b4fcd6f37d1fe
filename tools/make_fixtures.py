#!/usr/bin/python3
"""Write the random-initialised test models (Hugging Face layout) and the
golden outputs of the PyTorch reference for them.

    /usr/bin/python3 tools/make_fixtures.py            # tests/fixtures/models/*
    /usr/bin/python3 tools/make_fixtures.py --demo     # models/random-tiny-uncased

Each fixture exercises a different way Hugging Face writes BERT (see SPECS).
Weights are drawn with a fixed seed and larger than BERT's 0.02 init, so
that attention is far from uniform and a wrong mask, activation or
LayerNorm shows up as a large difference. Outputs go to golden.safetensors:
the inputs (input_ids, token_type_ids, attention_mask, I32 [B, T]) and
last_hidden_state, pooler_output, prediction_logits,
seq_relationship_logits (F32) as the reference computes them for the padded
batch.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_reference  # noqa: E402
import st_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPECS = [
    # 1 layer, 3 heads, hidden 48 (not a multiple of 64), BertForPreTraining
    # with the "bert." prefix and the decoder left out (tied).
    dict(name="tiny-pretraining", L=1, C=48, NH=3, I=96, V=99, P=64, TV=2, act="gelu", dtype="F32",
         arch="BertForPreTraining", heads=["pooler", "mlm", "nsp"], prefix=True,
         lengths=[7, 12, 1, 5]),
    # Bare BertModel (no prefix) in F16, tanh GELU.
    dict(name="f16-bertmodel", L=2, C=64, NH=4, I=128, V=150, P=40, TV=2, act="gelu_new", dtype="F16",
         arch="BertModel", heads=["pooler"], prefix=False, lengths=[40, 17, 3]),
    # BF16 BertForMaskedLM with TF-style LayerNorm gamma/beta names, ReLU,
    # three token types, explicit decoder weight and decoder bias, eps 1e-5.
    dict(name="bf16-mlm-gamma", L=3, C=40, NH=5, I=80, V=120, P=32, TV=3, act="relu", dtype="BF16",
         arch="BertForMaskedLM", heads=["mlm"], prefix=True, gamma_beta=True, decoder=True, eps=1e-5,
         lengths=[9, 32]),
    # Sharded checkpoint (index + 2 shards), sequence lengths 512 and 1.
    dict(name="sharded-512", L=2, C=32, NH=2, I=64, V=80, P=512, TV=2, act="gelu", dtype="F32",
         arch="BertForPreTraining", heads=["pooler", "mlm", "nsp"], prefix=True, shards=2,
         lengths=[512, 1, 300]),
    # Sequence classifier with labels, 4 layers, 6 heads of 16, I=200, SiLU,
    # a legacy position_ids buffer, one sequence with every key masked.
    dict(name="classifier-4l", L=4, C=96, NH=6, I=200, V=200, P=128, TV=2, act="silu", dtype="F32",
         arch="BertForSequenceClassification", heads=["pooler", "classifier"], prefix=True,
         labels=["negative", "neutral", "positive"], position_ids=True,
         lengths=[20, 64, 5, 0]),
]


def make_weights(s, g):
    """Canonical-name float32 state dict for spec s."""
    C, I, V = s["C"], s["I"], s["V"]
    sd = {}

    def normal(*shape, std=0.5):
        return torch.randn(*shape, generator=g) * std

    def dense(name, out, inp):
        sd[name + ".weight"] = normal(out, inp, std=1.0 / inp ** 0.5)
        sd[name + ".bias"] = normal(out, std=0.1)

    def norm(name):
        sd[name + ".weight"] = 1.0 + normal(C, std=0.2)
        sd[name + ".bias"] = normal(C, std=0.2)

    sd["embeddings.word_embeddings.weight"] = normal(V, C)
    sd["embeddings.position_embeddings.weight"] = normal(s["P"], C)
    sd["embeddings.token_type_embeddings.weight"] = normal(s["TV"], C)
    norm("embeddings.LayerNorm")
    for i in range(s["L"]):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            dense(p + "attention.self." + n, C, C)
        # Larger Q/K so that attention probabilities are far from uniform.
        sd[p + "attention.self.query.weight"] *= 3.0
        dense(p + "attention.output.dense", C, C)
        norm(p + "attention.output.LayerNorm")
        dense(p + "intermediate.dense", I, C)
        dense(p + "output.dense", C, I)
        norm(p + "output.LayerNorm")
    if "pooler" in s["heads"]:
        dense("pooler.dense", C, C)
    if "mlm" in s["heads"]:
        dense("cls.predictions.transform.dense", C, C)
        norm("cls.predictions.transform.LayerNorm")
        sd["cls.predictions.bias"] = normal(V, std=0.1)
        if s.get("decoder"):
            sd["cls.predictions.decoder.weight"] = normal(V, C)
    if "nsp" in s["heads"]:
        dense("cls.seq_relationship", 2, C)
    if "classifier" in s["heads"]:
        dense("classifier", len(s.get("labels", [0, 1])), C)
    return sd


def stored_name(s, k):
    """The name Hugging Face would write for canonical name k."""
    if s.get("gamma_beta"):
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    if s["prefix"] and not k.startswith(("cls.", "classifier", "qa_outputs", "intent_classifier")):
        k = "bert." + k
    return k


def config_for(s):
    cfg = {
        "architectures": [s["arch"]], "model_type": "bert",
        "vocab_size": s["V"], "hidden_size": s["C"], "num_hidden_layers": s["L"],
        "num_attention_heads": s["NH"], "intermediate_size": s["I"], "hidden_act": s["act"],
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": s["P"], "type_vocab_size": s["TV"], "initializer_range": 0.02,
        "layer_norm_eps": s.get("eps", 1e-12), "pad_token_id": 0, "position_embedding_type": "absolute",
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[s["dtype"]],
        "transformers_version": "4.46.0",
    }
    if "labels" in s:
        cfg["id2label"] = {str(i): l for i, l in enumerate(s["labels"])}
        cfg["label2id"] = {l: i for i, l in enumerate(s["labels"])}
        cfg["problem_type"] = "single_label_classification"
    return cfg


def write_model(s, out_dir, g):
    os.makedirs(out_dir, exist_ok=True)
    sd = make_weights(s, g)
    tdt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[s["dtype"]]
    stored = {stored_name(s, k): v.to(tdt) for k, v in sd.items()}
    if s.get("decoder"):
        stored["cls.predictions.decoder.bias"] = stored["cls.predictions.bias"].clone()
    if s.get("position_ids"):
        stored["bert.embeddings.position_ids"] = torch.arange(s["P"], dtype=torch.int64).unsqueeze(0)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config_for(s), f, indent=2)
        f.write("\n")
    for old in ("model.safetensors", "model.safetensors.index.json"):
        if os.path.exists(os.path.join(out_dir, old)):
            os.remove(os.path.join(out_dir, old))
    n = s.get("shards", 1)
    if n == 1:
        st_io.save(os.path.join(out_dir, "model.safetensors"), stored, {"format": "pt"})
    else:
        names = list(stored)
        weight_map = {}
        for i in range(n):
            part = names[i * len(names) // n:(i + 1) * len(names) // n]
            fn = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
            st_io.save(os.path.join(out_dir, fn), {k: stored[k] for k in part}, {"format": "pt"})
            weight_map.update({k: fn for k in part})
        total = sum(v.numel() * v.element_size() for v in stored.values())
        with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    # What the reference sees is what bert.c reads: the stored (rounded) values.
    return bert_reference.load_model_dir(out_dir)


def make_inputs(s, g):
    """A right-padded batch with one row per entry of s['lengths'] (0 = a row
    whose attention mask is all zero)."""
    T = max(max(s["lengths"]), 1)
    B = len(s["lengths"])
    ids = torch.randint(0, s["V"], (B, T), generator=g, dtype=torch.int64)
    types = torch.randint(0, s["TV"], (B, T), generator=g, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(s["lengths"]):
        mask[b, :n] = 1
        ids[b, n:] = 0  # [PAD]
        types[b, n:] = 0
    return ids, types, mask


def make_fixture(s, seed):
    g = torch.Generator().manual_seed(seed)
    d = os.path.join(ROOT, "tests", "fixtures", "models", s["name"])
    cfg, sd = write_model(s, d, g)
    ids, types, mask = make_inputs(s, g)
    with torch.no_grad():
        out = bert_reference.forward(cfg, sd, ids, types, mask)
    golden = {"input_ids": ids.int(), "token_type_ids": types.int(), "attention_mask": mask.int()}
    golden.update({k: v.contiguous().float() for k, v in out.items()})
    st_io.save(os.path.join(d, "golden.safetensors"), golden)
    write_embed_golden(d, ids, types, mask, out["last_hidden_state"])
    print(f"{s['name']}: {sorted(out)}", file=sys.stderr)


def write_embed_golden(d, ids, types, mask, h):
    """inputs.jsonl (one unpadded sequence per line) and the expected
    `bert embed` outputs for mean+normalize and cls pooling."""
    with open(os.path.join(d, "inputs.jsonl"), "w") as fi, \
            open(os.path.join(d, "expected_mean_normalized.jsonl"), "w") as fm, \
            open(os.path.join(d, "expected_cls.jsonl"), "w") as fc:
        for b in range(ids.shape[0]):
            n = int(mask[b].sum())
            if n == 0:
                continue
            fi.write(json.dumps({"input_ids": ids[b, :n].tolist(), "token_type_ids": types[b, :n].tolist()}) + "\n")
            m = h[b, :n].mean(0)
            m = m / m.norm().clamp_min(1e-12)
            fm.write(json.dumps({"embedding": [float(f"{x:.8g}") for x in m.tolist()]}) + "\n")
            fc.write(json.dumps({"embedding": [float(f"{x:.8g}") for x in h[b, 0].tolist()]}) + "\n")


def make_demo():
    """A 2-layer random model on the bert-base-uncased vocabulary, bundled
    for `make demo` until bert.c ships a model it pre-trained itself."""
    tok = os.path.join(ROOT, "..", "shared", "models", "bert-base-uncased-tokenizer")
    d = os.path.join(ROOT, "models", "random-tiny-uncased")
    s = dict(name="random-tiny-uncased", L=2, C=32, NH=2, I=64, V=30522, P=512, TV=2, act="gelu",
             dtype="F16", arch="BertForPreTraining", heads=["pooler", "mlm", "nsp"], prefix=True)
    write_model(s, d, torch.Generator().manual_seed(2026))
    for f in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(tok, f), os.path.join(d, f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.demo:
        make_demo()
        return
    for i, s in enumerate(SPECS):
        make_fixture(s, 1000 + i)


if __name__ == "__main__":
    main()
