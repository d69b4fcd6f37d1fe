"""A small PyTorch implementation of the BERT forward pass: the reference
that bert.c's golden files are made with.

It follows transformers' modeling_bert.py (BertEmbeddings, BertSelfAttention
in its eager form, BertSelfOutput, BertIntermediate, BertOutput, BertPooler,
BertLMPredictionHead, BertOnlyNSPHead) operation by operation, in float32:
  - embeddings: (word + token_type) + position, then LayerNorm;
  - attention mask: (1 - mask) * torch.finfo(float32).min added to QK^T/sqrt(d);
  - hidden_act "gelu" is the exact erf form, "gelu_new" the tanh form.
Used only to produce golden files (run with Debian's python3-torch).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

import st_io


def _act(name):
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return F.relu
    if name in ("silu", "swish"):
        return F.silu
    raise ValueError(f"unknown hidden_act {name}")


def load_model_dir(d):
    """Config dict and a float32 state dict with canonical names (no 'bert.'
    prefix, LayerNorm weight/bias), from a single or sharded checkpoint."""
    cfg = json.load(open(os.path.join(d, "config.json")))
    files = ["model.safetensors"]
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
    sd = {}
    for f in files:
        for k, v in st_io.load(os.path.join(d, f)).items():
            if k.startswith("bert."):
                k = k[5:]
            k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
            sd[k] = v.float() if v.is_floating_point() else v
    return cfg, sd


def forward(cfg, sd, input_ids, token_type_ids, attention_mask):
    """Returns a dict with last_hidden_state [B,T,C] and, when the checkpoint
    has them, pooler_output [B,C], prediction_logits [B,T,V],
    seq_relationship_logits [B,2]."""
    B, T = input_ids.shape
    C = cfg["hidden_size"]
    NH = cfg["num_attention_heads"]
    HS = C // NH
    eps = cfg.get("layer_norm_eps", 1e-12)
    act = _act(cfg.get("hidden_act", "gelu"))

    def lin(x, p):
        return F.linear(x, sd[p + ".weight"], sd[p + ".bias"])

    def ln(x, p):
        # in the weights' dtype: autocast on CUDA runs layer_norm in f32 whatever its input;
        # CPU autocast in older PyTorch passes a bf16 input (the MLM transform's) beside f32 weights and fails
        return F.layer_norm(x.to(sd[p + ".weight"].dtype), (C,), sd[p + ".weight"], sd[p + ".bias"], eps)

    pos = torch.arange(T, device=input_ids.device).unsqueeze(0).expand(B, T)
    x = F.embedding(input_ids, sd["embeddings.word_embeddings.weight"])
    x = x + F.embedding(token_type_ids, sd["embeddings.token_type_embeddings.weight"])
    x = x + F.embedding(pos, sd["embeddings.position_embeddings.weight"])
    x = ln(x, "embeddings.LayerNorm")

    ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def heads(t):
            return t.view(B, T, NH, HS).permute(0, 2, 1, 3)

        q = heads(lin(x, p + "attention.self.query"))
        k = heads(lin(x, p + "attention.self.key"))
        v = heads(lin(x, p + "attention.self.value"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HS)
        scores = scores + ext
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B, T, C)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = act(lin(x, p + "intermediate.dense"))
        x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")

    out = {"last_hidden_state": x}
    if "pooler.dense.weight" in sd:
        out["pooler_output"] = torch.tanh(lin(x[:, 0], "pooler.dense"))
        if "cls.seq_relationship.weight" in sd:
            out["seq_relationship_logits"] = lin(out["pooler_output"], "cls.seq_relationship")
    if "cls.predictions.transform.dense.weight" in sd:
        t = ln(act(lin(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
        dec = sd.get("cls.predictions.decoder.weight", sd["embeddings.word_embeddings.weight"])
        bias = sd.get("cls.predictions.bias", sd.get("cls.predictions.decoder.bias"))
        out["prediction_logits"] = F.linear(t, dec, bias)
    arch = (cfg.get("architectures") or [""])[0]
    if "classifier.weight" in sd:
        if "TokenClassification" in arch:
            out["token_logits"] = lin(x, "classifier")          # BertForTokenClassification
        else:
            out["logits"] = lin(out["pooler_output"], "classifier")  # BertForSequenceClassification
    if "qa_outputs.weight" in sd:
        out["qa_logits"] = lin(x, "qa_outputs")                  # BertForQuestionAnswering: [..., 2]
    return out
