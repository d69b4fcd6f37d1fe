#!/usr/bin/python3
"""Random-initialised task models and the Hugging Face pipeline results for
them, computed by the PyTorch reference (tools/bert_reference.py) and the
pipelines' post-processing re-written here from transformers' definitions
(pipelines/fill_mask.py, text_classification.py, token_classification.py,
question_answering.py; sentence-transformers Pooling/Normalize; CrossEncoder).

    make build/bert && /usr/bin/python3 tools/make_task_fixtures.py

Tokenization uses `build/bert tokenize` (itself checked against Hugging
Face's tokenizer on 15k cases). Writes tests/fixtures/tasks/<model>/ with
the model, its tokenizer files, inputs_<task>.jsonl and expected_<task>.jsonl.
"""
import json
import math
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_reference  # noqa: E402
from make_fixtures import make_weights, stored_name, config_for  # noqa: E402
import st_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tasks")
BERT = os.path.join(ROOT, "build", "bert")
FULL_TOK = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "uncased")

FILL = [
    "The capital of France is [MASK].",
    "Paris is the [MASK] of [MASK].",
    "[MASK] loves Zürich in the spring!",
    "She bought three [MASK] at the market, didn't she?",
]
CLASSIFY = [
    {"text": "I love this movie, it's wonderful."},
    {"text": "The service was terrible and slow."},
    {"text": "It was okay."},
    {"text": "Is the bank open today?", "text_pair": "The bank opens at nine on weekdays."},
    {"text": "Schwarzenegger visited Tokyo.", "text_pair": "Nothing about that."},
]
NER = [
    "Arnold Schwarzenegger visited Microsoft headquarters in Redmond, Washington.",
    "Angela Merkel met Emmanuel Macron in Zürich on Tuesday.",
    "The unbelievably longwinded acquisition by Anheuser-Busch InBev closed.",
    "Dr. Jean-Luc Picard commands the USS Enterprise ☃ near Qo'noS.",
]
QA = [
    {"question": "Who visited Tokyo?", "context": "Arnold Schwarzenegger visited Tokyo in 1985. " * 3 +
     "He later became governor of California, and then returned to acting in several films."},
    {"question": "What did the bank do?", "context": "The bank opens at nine on weekdays. On weekends it stays closed, "
     "except for the first Saturday of each month, when it opens at ten and closes at noon."},
    {"question": "Where is the mat?", "context": "The cat sat on the mat. The mat was red."},
]
RERANK = [
    {"query": "When does the bank open?", "documents": ["The bank opens at nine.", "Cats like mats.",
                                                         "Weekends are closed.", "Nine is a number."]},
    {"query": "Who is Arnold?", "documents": ["Arnold Schwarzenegger is an actor.", "Tokyo is big."]},
]
NSP = [
    {"text": "The cat sat on the mat.", "text_pair": "It was a red mat."},
    {"text": "Paris is in France.", "text_pair": "Bananas are yellow."},
    {"text": "I love this movie.", "text_pair": "The bank opens at nine."},
]
EMBED = [
    {"text": "The cat sat on the mat."},
    {"text": "A very long sentence that goes on and on, well past the sentence-transformers limit of sixteen tokens."},
    {"text": "Zürich ☃"},
]


def tokenize(model_dir, items, *flags):
    """items: list of {"text", "text_pair"?}; returns the CLI's JSON objects."""
    inp = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
    r = subprocess.run([BERT, "tokenize", model_dir, *flags], input=inp.encode(), capture_output=True, check=True)
    return [json.loads(l) for l in r.stdout.decode().splitlines()]


def all_texts():
    t = list(FILL) + NER + [e["text"] for e in EMBED + NSP + CLASSIFY] + [e.get("text_pair", "") for e in NSP + CLASSIFY]
    for q in QA:
        t += [q["question"], q["context"]]
    for r in RERANK:
        t += [r["query"]] + r["documents"]
    return [x for x in t if x]


def build_vocab():
    """The pieces the full bert-base-uncased vocabulary gives these texts,
    plus every letter/digit/punctuation piece, special tokens first (at ids
    other than bert-base's, so nothing can rely on hard-coded ids)."""
    toks = set()
    for e in tokenize(FULL_TOK, [{"text": t} for t in all_texts()]):
        toks.update(e["tokens"])
    base = "abcdefghijklmnopqrstuvwxyz0123456789"
    for c in base:
        toks.update([c, "##" + c])
    toks.update(list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    rest = sorted(t for t in toks if t not in special)
    return ["[unused0]"] + special + rest


def write_model(name, vocab, arch, heads, labels=None, problem_type=None, P=128, seed=0, extra=None):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    s = dict(name=name, L=2, C=32, NH=4, I=64, V=len(vocab), P=P, TV=2, act="gelu", dtype="F32", arch=arch,
             heads=heads, prefix=True)
    if labels is not None:
        s["labels"] = labels
    g = torch.Generator().manual_seed(seed)
    sd = make_weights(s, g)
    if "qa" in heads:
        sd["qa_outputs.weight"] = torch.randn(2, s["C"], generator=g) * 0.5
        sd["qa_outputs.bias"] = torch.randn(2, generator=g) * 0.1
    cfg = config_for(s)
    if problem_type:
        cfg["problem_type"] = problem_type
    elif "problem_type" in cfg and labels is not None and len(labels) == 1:
        del cfg["problem_type"]
    if extra:
        cfg.update(extra)
    st_io.save(os.path.join(d, "model.safetensors"), {stored_name(s, k): v for k, v in sd.items()}, {"format": "pt"})
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    json.dump({"do_lower_case": True, "model_max_length": P, "tokenizer_class": "BertTokenizer",
               "clean_up_tokenization_spaces": True},
              open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
    return d, cfg, {k: v.float() for k, v in sd.items()}


def run(cfg, sd, enc):
    ids = torch.tensor([enc["input_ids"]])
    tt = torch.tensor([enc["token_type_ids"]])
    mask = torch.tensor([enc["attention_mask"]])
    with torch.no_grad():
        return {k: v[0] for k, v in bert_reference.forward(cfg, sd, ids, tt, mask).items()}


# --- decoding as transformers does for a fast BERT tokenizer --------------
def rust_decode(tokens):
    out = []
    for i, t in enumerate(tokens):
        if i:
            t = t[2:] if t.startswith("##") else " " + t
        for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            t = t.replace(a, b)
        out.append(t)
    return "".join(out)


def py_cleanup(s):
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                 (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        s = s.replace(a, b)
    return s


def decode(vocab, ids, skip_special):
    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    toks = [vocab[i] for i in ids if not (skip_special and vocab[i] in special)]
    return py_cleanup(rust_decode(toks))


# --- tasks -------------------------------------------------------------------
def fill_mask(vocab, cfg, sd, d, top_k=5):
    res = []
    mask_id = vocab.index("[MASK]")
    for text, enc in zip(FILL, tokenize(d, [{"text": t} for t in FILL])):
        out = run(cfg, sd, enc)
        ids = enc["input_ids"]
        positions = [i for i, x in enumerate(ids) if x == mask_id]
        single = len(positions) == 1
        rows = []
        for pos in positions:
            probs = torch.softmax(out["prediction_logits"][pos].double(), 0)
            v, p = probs.topk(top_k)
            row = []
            for score, tok in zip(v.tolist(), p.tolist()):
                seq = list(ids)
                seq[pos] = tok
                row.append({"score": score, "token": tok, "token_str": decode(vocab, [tok], False),
                            "sequence": decode(vocab, seq, single)})
            rows.append(row)
        res.append(rows[0] if single else rows)
    return res


def classify(cfg, sd, d, items, function=None):
    res = []
    labels = [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
    for enc in tokenize(d, items):
        logits = run(cfg, sd, enc)["logits"].double()
        fn = function
        if fn is None:  # text_classification.py: from problem_type, then num_labels
            pt = cfg.get("problem_type")
            if pt == "multi_label_classification" or len(labels) == 1:
                fn = "sigmoid"
            elif pt == "regression":
                fn = "none"
            else:
                fn = "softmax"
        scores = torch.sigmoid(logits) if fn == "sigmoid" else torch.softmax(logits, 0) if fn == "softmax" else logits
        ranked = sorted(({"label": labels[i], "score": s} for i, s in enumerate(scores.tolist())),
                        key=lambda r: -r["score"])
        res.append(ranked)
    return res


def ner(vocab, cfg, sd, d, aggregation):
    labels = [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
    res = []
    for text, enc in zip(NER, tokenize(d, [{"text": t} for t in NER])):
        logits = run(cfg, sd, enc)["token_logits"].double()
        scores = torch.softmax(logits, -1)
        pre = []
        for idx, tok in enumerate(enc["input_ids"]):
            if enc["special_tokens_mask"][idx]:
                continue
            s, e = enc["offsets"][idx]
            word = vocab[tok]
            word_ref = text[s:e]
            is_sub = len(word) != len(word_ref)
            if tok == vocab.index("[UNK]"):
                word, is_sub = word_ref, False
            pre.append({"word": word, "scores": scores[idx], "start": s, "end": e, "index": idx, "is_subword": is_sub})
        if aggregation in ("none", "simple"):
            ents = []
            for p in pre:
                i = int(p["scores"].argmax())
                ents.append({"entity": labels[i], "score": float(p["scores"][i]), "index": p["index"],
                             "word": p["word"], "start": p["start"], "end": p["end"]})
        else:
            ents, group = [], None

            def agg(g):
                if aggregation == "first":
                    sc = g[0]["scores"]
                elif aggregation == "max":
                    sc = max(g, key=lambda x: float(x["scores"].max()))["scores"]
                else:
                    sc = torch.stack([x["scores"] for x in g]).mean(0)
                i = int(sc.argmax())
                return {"entity": labels[i], "score": float(sc[i]), "word": rust_decode([x["word"] for x in g]),
                        "start": g[0]["start"], "end": g[-1]["end"]}
            for p in pre:
                if group is None:
                    group = [p]
                elif p["is_subword"]:
                    group.append(p)
                else:
                    ents.append(agg(group))
                    group = [p]
            if group:
                ents.append(agg(group))
        if aggregation != "none":
            def tag(name):
                if name.startswith("B-"):
                    return "B", name[2:]
                if name.startswith("I-"):
                    return "I", name[2:]
                return "I", name
            groups, cur = [], []

            def close(c):
                return {"entity_group": c[0]["entity"].split("-")[-1],
                        "score": sum(x["score"] for x in c) / len(c),
                        "word": rust_decode([x["word"] for x in c]),
                        "start": c[0]["start"], "end": c[-1]["end"]}
            for e in ents:
                if not cur:
                    cur = [e]
                    continue
                bi, t = tag(e["entity"])
                _, lt = tag(cur[-1]["entity"])
                if t == lt and bi != "B":
                    cur.append(e)
                else:
                    groups.append(close(cur))
                    cur = [e]
            if cur:
                groups.append(close(cur))
            ents = groups
        ents = [e for e in ents if e.get("entity", e.get("entity_group")) != "O"]
        res.append(ents)
    return res


def qa(cfg, sd, d, max_seq_len=64, doc_stride=16, max_answer_len=15, top_k=1, handle_impossible=False):
    """HF pipeline question_answering.py (fast tokenizer path), plus the
    max-context rule of Google's run_squad.py: a start token is scored only
    in the window where min(left, right context) + 0.01 * window length is
    largest."""
    res = []
    for item in QA:
        encs = tokenize(d, [{"text": item["question"], "text_pair": item["context"]}], "--max-length", str(max_seq_len),
                        "--truncation", "only_second", "--stride", str(doc_stride), "--return-overflowing")[0]
        n_win = len(encs["input_ids"])
        windows = [{k: encs[k][w] for k in encs} for w in range(n_win)]
        # max context: for each context word-piece (identified by its offsets start), best window
        best = {}
        for w, win in enumerate(windows):
            ctx = [i for i, (t, s) in enumerate(zip(win["token_type_ids"], win["special_tokens_mask"])) if t == 1 and not s]
            for j, i in enumerate(ctx):
                key = tuple(win["offsets"][i])
                score = min(j, len(ctx) - 1 - j) + 0.01 * len(ctx)
                if key not in best or score > best[key][0]:
                    best[key] = (score, w)
        answers, min_null = [], 1e6
        for w, win in enumerate(windows):
            out = run(cfg, sd, win)["qa_logits"].double()
            start, end = out[:, 0].clone(), out[:, 1].clone()
            T = len(win["input_ids"])
            allowed = [win["token_type_ids"][i] == 1 and not win["special_tokens_mask"][i] for i in range(T)]
            allowed[0] = True  # [CLS] stays unmasked
            undesired = torch.tensor([not a for a in allowed])
            start[undesired] = -10000.0
            end[undesired] = -10000.0
            start = torch.softmax(start, 0)
            end = torch.softmax(end, 0)
            if handle_impossible:
                min_null = min(min_null, float(start[0] * end[0]))
            start[0] = end[0] = 0.0
            outer = start[:, None] * end[None, :]
            cand = torch.tril(torch.triu(outer), max_answer_len - 1)
            for s in range(T):
                for e in range(T):
                    sc = float(cand[s, e])
                    if sc <= 0 or not allowed[s] or not allowed[e] or s == 0 or e == 0:
                        continue
                    if best.get(tuple(win["offsets"][s]), (0, w))[1] != w:
                        continue
                    ws, we = win["word_ids"][s], win["word_ids"][e]
                    cs = min(win["offsets"][i][0] for i in range(T) if win["word_ids"][i] == ws and win["token_type_ids"][i] == 1)
                    ce = max(win["offsets"][i][1] for i in range(T) if win["word_ids"][i] == we and win["token_type_ids"][i] == 1)
                    answers.append({"score": sc, "start": cs, "end": ce, "answer": item["context"][cs:ce]})
        if handle_impossible:
            answers.append({"score": min_null, "start": 0, "end": 0, "answer": ""})
        answers.sort(key=lambda a: -a["score"])
        res.append(answers[0] if top_k == 1 else answers[:top_k])
    return res


def rerank(cfg, sd, d):
    res = []
    for r in RERANK:
        encs = tokenize(d, [{"text": r["query"], "text_pair": doc} for doc in r["documents"]])
        scores = [float(torch.sigmoid(run(cfg, sd, e)["logits"].double()[0])) for e in encs]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        res.append({"results": [{"index": i, "score": scores[i], "text": r["documents"][i]} for i in order]})
    return res


def nsp(cfg, sd, d):
    res = []
    for enc in tokenize(d, NSP):
        p = torch.softmax(run(cfg, sd, enc)["seq_relationship_logits"].double(), 0)
        res.append({"is_next": float(p[0]), "not_next": float(p[1])})
    return res


def embed_st(cfg, sd, d, max_seq):
    res = []
    for enc in tokenize(d, EMBED, "--max-length", str(max_seq), "--truncation", "longest_first"):
        h = run(cfg, sd, enc)["last_hidden_state"].double()
        m = h.mean(0)
        m = m / m.norm().clamp_min(1e-12)
        res.append({"embedding": m.tolist()})
    return res


def dump(d, name, inputs, outputs):
    with open(os.path.join(d, f"inputs_{name}.jsonl"), "w") as f:
        for i in inputs:
            f.write(json.dumps(i, ensure_ascii=False) + "\n")
    with open(os.path.join(d, f"expected_{name}.jsonl"), "w") as f:
        for o in outputs:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    vocab = build_vocab()
    d, cfg, sd = write_model("mlm", vocab, "BertForPreTraining", ["pooler", "mlm", "nsp"], seed=11)
    dump(d, "fill_mask", [{"text": t} for t in FILL], fill_mask(vocab, cfg, sd, d))
    dump(d, "nsp", NSP, nsp(cfg, sd, d))
    d, cfg, sd = write_model("classifier", vocab, "BertForSequenceClassification", ["pooler", "classifier"],
                             labels=["negative", "neutral", "positive"], seed=12)
    dump(d, "classify", CLASSIFY, classify(cfg, sd, d, CLASSIFY))
    d, cfg, sd = write_model("cross-encoder", vocab, "BertForSequenceClassification", ["pooler", "classifier"],
                             labels=["LABEL_0"], seed=13)
    dump(d, "rerank", RERANK, rerank(cfg, sd, d))
    dump(d, "classify", CLASSIFY, classify(cfg, sd, d, CLASSIFY))
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "MISC"]
    d, cfg, sd = write_model("ner", vocab, "BertForTokenClassification", ["classifier"], labels=labels, seed=14)
    for a in ("none", "simple", "first", "average", "max"):
        dump(d, f"ner_{a}", [{"text": t} for t in NER], ner(vocab, cfg, sd, d, a))
    d, cfg, sd = write_model("qa", vocab, "BertForQuestionAnswering", ["qa"], P=128, seed=15)
    dump(d, "qa", QA, qa(cfg, sd, d))
    dump(d, "qa_top3_impossible", QA, qa(cfg, sd, d, top_k=3, handle_impossible=True))
    d, cfg, sd = write_model("sentence-transformer", vocab, "BertModel", [], seed=16)
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
              open(os.path.join(d, "modules.json"), "w"), indent=2)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
               "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False},
              open(os.path.join(d, "1_Pooling", "config.json"), "w"), indent=2)
    json.dump({"max_seq_length": 16, "do_lower_case": False}, open(os.path.join(d, "sentence_bert_config.json"), "w"))
    dump(d, "embed", EMBED, embed_st(cfg, sd, d, 16))
    print("task fixtures written to", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
