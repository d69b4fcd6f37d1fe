#!/usr/bin/python3
"""Cross-check bert.c against the real Hugging Face libraries.

bert.c's C tests compare with our own PyTorch reference (tools/bert_reference.py)
and with the pipelines' post-processing re-written from transformers' sources.
This script closes that loop with the real transformers / sentence-transformers,
here in the project venv (tests/cli/test_realstack.sh runs it) or on any
machine that has them:

    py=$(tools/pyenv.sh transformers sentence-transformers)
    BERT=build/bert "$py" tools/hf_crosscheck.py prepare hfcheck   # needs the bert binary ($BERT, default build/bert)
    "$py" tools/hf_crosscheck.py check hfcheck OUT                 # needs transformers, sentence-transformers, torch

`prepare` writes models with bert.c (bert init, bert pretrain, bert finetune for
sequence / multi-label / token / QA heads), lists them with the bundled models
in hfcheck/manifest.json, and records bert.c's outputs for each (per-token
hidden states, fill-mask, classify, ner with every aggregation, qa, nsp,
tokenize) in hfcheck/bertc/. `check` loads every model with transformers'
Auto classes (reporting missing / unexpected weights: a saved model must load
"unchanged"), runs transformers' own pipelines and tokenizers on the same
inputs, and compares:
  - per-token hidden states: max |diff| (eager attention, float32);
  - pipeline outputs: labels / tokens / words / spans exact, scores <= 1e-4;
  - the committed fixtures: golden.safetensors of tests/fixtures/models
    (our reference) and expected_*.jsonl of tests/fixtures/tasks (what the
    CLI tests hold bert.c to) against the real libraries.
It writes OUT/report.json and prints one line per check; exit status 1 if a
check that must agree does not. Known, documented deviations (QA's max-context
rule, see README) are reported as such, not as failures.
"""
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-4

SENTENCES = [
    "a lovely little film",
    "stale and stupid",
    "The capital of France is Paris, and it lies on the Seine.",
    "Arnold Schwarzenegger visited Microsoft headquarters in Redmond, Washington.",
    "Angela Merkel met Emmanuel Macron in Zürich on Tuesday.",
    "Dr. Jean-Luc Picard commands the USS Enterprise ☃ near Qo'noS.",
    "The unbelievably longwinded acquisition by Anheuser-Busch InBev closed.",
    "I can't believe it's not butter!",
]
PAIRS = [
    {"text": "Is the bank open today?", "text_pair": "The bank opens at nine on weekdays."},
    {"text": "The cat sat on the mat.", "text_pair": "It was a red mat."},
    {"text": "Paris is in France.", "text_pair": "Bananas are yellow."},
]
FILL = [
    "The capital of France is [MASK].",
    "She bought three [MASK] at the market, didn't she?",
    "[MASK] is the best film of the year.",
    "the cat sat on the [MASK] .",
]
QA = [
    {"question": "Where did the cat sit?", "context": "The cat sat on the mat. The mat was red."},
    {"question": "Who visited Tokyo?", "context": "Arnold Schwarzenegger visited Tokyo in 1985. He later became "
     "governor of California, and then returned to acting in several films."},
    {"question": "When does the bank open?", "context": "The bank opens at nine on weekdays. On weekends it stays "
     "closed, except for the first Saturday of each month, when it opens at ten and closes at noon."},
]
AGGREGATIONS = ("none", "simple", "first", "average", "max")


# ----------------------------------------------------------------------------------- prepare
def bert(*args, stdin=None):
    r = subprocess.run([os.environ.get("BERT") or os.path.join(ROOT, "build", "bert"), *args], input=stdin,
                       capture_output=True)
    if r.returncode != 0:
        sys.exit("bert %s failed:\n%s" % (" ".join(args), r.stderr.decode()))
    return r.stdout.decode()


def model_path(work, m):
    return os.path.join(work, m["dir"]) if "dir" in m else os.path.join(ROOT, m["repo_dir"])


def jsonl(items):
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()


def prepare(work):
    ft = os.path.join(ROOT, "tests", "fixtures", "finetune")
    tasks = os.path.join(ROOT, "tests", "fixtures", "tasks")
    mdir = os.path.join(work, "models")
    tmp = os.path.join(work, "tmp")
    for d in (mdir, tmp):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    os.makedirs(os.path.join(work, "bertc"), exist_ok=True)

    def keep(run_dir, name):
        shutil.copytree(run_dir, os.path.join(mdir, name))
        return os.path.join("models", name)  # relative to the work folder

    manifest = []
    # Models bert.c writes.
    bert("init", os.path.join(tmp, "init-sin"), "--vocab", os.path.join(tasks, "mlm", "vocab.txt"), "--layers", "2",
         "--hidden", "32", "--heads", "2", "--max-position", "64", "--positions", "sinusoidal", "--seed", "3")
    manifest.append({"name": "init-sinusoidal", "dir": keep(os.path.join(tmp, "init-sin"), "init-sinusoidal"),
                     "tasks": ["fill_mask", "nsp"]})
    bert("pretrain", os.path.join(tmp, "init-sin"), "--output-dir", os.path.join(tmp, "pt"), "--corpus",
         os.path.join(ft, "pretrain_corpus.txt"), "--max-seq-len", "64", "--epochs", "2", "--batch-size", "4",
         "--heldout-docs", "2", "--seed", "4")
    manifest.append({"name": "pretrained", "dir": keep(os.path.join(tmp, "pt", "model"), "pretrained"),
                     "tasks": ["fill_mask", "nsp"]})
    bert("finetune", os.path.join(tasks, "mlm"), "--output-dir", os.path.join(tmp, "seq"), "--train",
         os.path.join(ft, "train.tsv"), "--dev", os.path.join(ft, "dev.tsv"), "--text-column", "sentence",
         "--label-column", "label", "--epochs", "2", "--batch-size", "4", "--lr", "1e-3", "--seed", "5")
    manifest.append({"name": "finetuned-classifier", "dir": keep(os.path.join(tmp, "seq", "best"), "finetuned-classifier"),
                     "tasks": ["classify"]})
    bert("finetune", os.path.join(tasks, "mlm"), "--output-dir", os.path.join(tmp, "multi"), "--train",
         os.path.join(ft, "multi_train.tsv"), "--dev", os.path.join(ft, "multi_dev.tsv"), "--text-column", "sentence",
         "--label-column", "genres", "--problem", "multi_label", "--epochs", "2", "--batch-size", "4", "--seed", "6")
    manifest.append({"name": "finetuned-multilabel", "dir": keep(os.path.join(tmp, "multi", "best"), "finetuned-multilabel"),
                     "tasks": ["classify"]})
    bert("finetune", os.path.join(tasks, "mlm"), "--task-type", "token", "--output-dir", os.path.join(tmp, "ner"),
         "--train", os.path.join(ft, "ner_train.jsonl"), "--dev", os.path.join(ft, "ner_dev.conll"), "--epochs", "4",
         "--batch-size", "4", "--lr", "3e-3", "--seed", "7")
    manifest.append({"name": "finetuned-ner", "dir": keep(os.path.join(tmp, "ner", "best"), "finetuned-ner"),
                     "tasks": ["ner"]})
    bert("finetune", os.path.join(tasks, "qa"), "--task-type", "qa", "--output-dir", os.path.join(tmp, "qa"), "--train",
         os.path.join(ft, "qa_train.json"), "--dev", os.path.join(ft, "qa_dev.json"), "--epochs", "2", "--batch-size",
         "4", "--max-seq-len", "64", "--doc-stride", "16", "--lr", "1e-3", "--seed", "8")
    manifest.append({"name": "finetuned-qa", "dir": keep(os.path.join(tmp, "qa", "best"), "finetuned-qa"),
                     "tasks": ["qa"]})
    shutil.rmtree(tmp)
    # The models shipped in the repository (F16 safetensors), relative to the repository.
    manifest += [
        {"name": "bertc-mini-uncased", "repo_dir": "models/bertc-mini-uncased", "tasks": ["fill_mask", "nsp"]},
        {"name": "bertc-mini-uncased-sst2", "repo_dir": "models/bertc-mini-uncased-sst2", "tasks": ["classify"]},
        {"name": "bertc-mini-uncased-conll03", "repo_dir": "models/bertc-mini-uncased-conll03", "tasks": ["ner"]},
        {"name": "bertc-tiny-uncased", "repo_dir": "models/bertc-tiny-uncased", "tasks": ["fill_mask", "nsp"]},
        {"name": "random-tiny-uncased", "repo_dir": "models/random-tiny-uncased", "tasks": []},
    ]

    texts = [{"text": s} for s in SENTENCES]
    for m in manifest:
        d = model_path(work, m)
        out = {"tokenize": [json.loads(l) for l in bert("tokenize", d, stdin=jsonl(texts + PAIRS)).splitlines()],
               "hidden": [json.loads(l) for l in bert("embed", d, "--pooling", "none", "--threads", "1",
                                                        stdin=jsonl(texts + PAIRS)).splitlines()]}
        if "fill_mask" in m["tasks"]:
            out["fill_mask"] = [json.loads(l) for l in bert("fill-mask", d, "--top-k", "5", stdin=jsonl(
                [{"text": t} for t in FILL])).splitlines()]
        if "nsp" in m["tasks"]:
            out["nsp"] = [json.loads(l) for l in bert("nsp", d, stdin=jsonl(PAIRS)).splitlines()]
        if "classify" in m["tasks"]:
            n = len(json.load(open(os.path.join(d, "config.json")))["id2label"])
            out["classify"] = [json.loads(l) for l in bert("classify", d, "--top-k", str(n),
                                                           stdin=jsonl(texts + PAIRS)).splitlines()]
        if "ner" in m["tasks"]:
            for a in AGGREGATIONS:
                out["ner_" + a] = [json.loads(l) for l in bert("ner", d, "--aggregation", a,
                                                               stdin=jsonl(texts)).splitlines()]
        if "qa" in m["tasks"]:
            out["qa"] = [json.loads(l) for l in bert("qa", d, "--top-k", "3", stdin=jsonl(QA)).splitlines()]
        with open(os.path.join(work, "bertc", m["name"] + ".json"), "w") as f:
            json.dump(out, f, ensure_ascii=False)
    with open(os.path.join(work, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("prepared %d models in %s" % (len(manifest), work))


# ------------------------------------------------------------------------------------- check
class Report:
    def __init__(self):
        self.rows = []
        self.failed = 0

    def guard(self, what, fn, *args):
        """Runs one group of checks; an exception there is a failed check, not the end of the run."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - reported, the other groups still run
            import traceback
            self.add(what + " (raised)", False, repr(e)[:400])
            traceback.print_exc()

    def add(self, what, ok, detail, known=False, skipped=False):
        status = "skipped" if skipped else "ok" if ok else ("known-deviation" if known else "FAIL")
        if not ok and not known and not skipped:
            self.failed += 1
        self.rows.append({"check": what, "status": status, "detail": detail})
        print("%-16s %-70s %s" % (status, what, detail), flush=True)


def close(a, b, path="", tol=TOL):
    """None if a and b agree (numbers within tol, everything else exact), else where they differ."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return None if a == b else "%s: %r != %r" % (path, a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return None if abs(a - b) <= tol else "%s: %r != %r" % (path, a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return "%s: keys %s != %s" % (path, sorted(a), sorted(b))
        for k in a:
            r = close(a[k], b[k], path + "." + k, tol)
            if r:
                return r
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return "%s: length %d != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            r = close(x, y, "%s[%d]" % (path, i), tol)
            if r:
                return r
        return None
    return None if a == b else "%s: %r != %r" % (path, a, b)


def plain(x):
    """One input's pipeline output as JSON values (numpy scalars -> Python numbers). transformers 5
    wraps a single input's ranked labels in one more list than 4 did; that level is dropped."""
    x = json.loads(json.dumps(x, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    if isinstance(x, list) and len(x) == 1 and isinstance(x[0], list):
        x = x[0]
    return x


def check(work, out_dir):
    import torch
    import transformers
    from transformers import AutoConfig, AutoTokenizer, pipeline
    torch.set_num_threads(4)
    rep = Report()
    os.makedirs(out_dir, exist_ok=True)
    versions = {"transformers": transformers.__version__, "torch": torch.__version__}
    try:
        import sentence_transformers
        versions["sentence_transformers"] = sentence_transformers.__version__
    except ImportError:
        sentence_transformers = None
    print("versions:", versions, flush=True)

    def pipe(task, d, **kw):
        """A pipeline in float32 whatever the stored dtype (transformers 5 keeps F16 weights in F16;
        transformers 4 names the argument torch_dtype and hands an unknown dtype= to the tokenizer)."""
        if int(transformers.__version__.split(".")[0]) >= 5:
            return pipeline(task, model=d, tokenizer=d, device=-1, dtype=torch.float32, **kw)
        return pipeline(task, model=d, tokenizer=d, device=-1, torch_dtype=torch.float32, **kw)

    def has_task(task):
        try:
            from transformers.pipelines import SUPPORTED_TASKS
            return task in SUPPORTED_TASKS
        except ImportError:
            return True

    def load(cls, d):
        kw = {"attn_implementation": "eager"}
        m, info = cls.from_pretrained(d, output_loading_info=True, **kw)
        return m.float().eval(), {k: sorted(v) if isinstance(v, (list, set)) else str(v) for k, v in info.items()}

    def load_as_saved(label, d):
        """The class config.json names, loaded with the load report checked: None if it fails."""
        arch = (AutoConfig.from_pretrained(d).architectures or ["BertModel"])[0]
        try:
            model, info = load(getattr(transformers, arch), d)
        except Exception as e:  # noqa: BLE001 - report, do not stop
            rep.add("%s loads as %s" % (label, arch), False, repr(e)[:300])
            return None
        missing = [k for k in info.get("missing_keys", []) if "position_ids" not in k]
        rep.add("%s loads as %s (no missing/unexpected weights)" % (label, arch),
                not missing and not info.get("unexpected_keys"), json.dumps(info)[:300])
        return model

    # 1. Our reference's golden files (tests/fixtures/models) against transformers' BertModel.
    from safetensors import safe_open
    from safetensors.torch import load_file
    fx = os.path.join(ROOT, "tests", "fixtures", "models")

    def fixture(name):
        d = os.path.join(fx, name)
        files = sorted(f for f in os.listdir(d) if f.startswith("model") and f.endswith(".safetensors"))
        g = load_file(os.path.join(d, "golden.safetensors"))
        model = load_as_saved("fixture " + name, d)
        if model is None:
            return
        with torch.no_grad():
            o = model(input_ids=g["input_ids"].long(), token_type_ids=g["token_type_ids"].long(),
                      attention_mask=g["attention_mask"].long(), output_hidden_states=True)
        mask = g["attention_mask"].bool()
        # A checkpoint with a decoder weight of its own but no tie_word_embeddings: false in its
        # config: transformers 4 ties the two and loads the decoder's values into the input
        # embeddings too (transformers 5 and bert.c keep the file's word embeddings).
        retied = False
        for file in files:
            with safe_open(os.path.join(d, file), "pt") as f:
                key = next((k for k in f.keys() if k.endswith("embeddings.word_embeddings.weight")), None)
                retied |= key is not None and not torch.equal(f.get_tensor(key).float(),
                                                              model.get_input_embeddings().weight.float())
        pairs = {"last_hidden_state": o.hidden_states[-1]}
        if "pooler_output" in g and getattr(o, "pooler_output", None) is not None:
            pairs["pooler_output"] = o.pooler_output
        for k in ("prediction_logits", "seq_relationship_logits", "logits"):
            if k in g and hasattr(o, k):
                pairs[k] = getattr(o, k)
        for k, v in pairs.items():
            ref = g[k]
            if v.dim() == 3 and ref.dim() == 3:
                diff = (v - ref).abs()[mask].max().item()
            else:
                diff = (v - ref).abs().max().item()
            rep.add("fixture %s %s vs transformers" % (name, k), diff <= TOL, "max|diff| %.2e" % diff +
                    (" (transformers %s replaced the word embeddings by the decoder weight)" %
                     transformers.__version__ if retied else ""), known=retied)

    for name in sorted(os.listdir(fx)):
        rep.guard("fixture " + name, fixture, name)

    # 2. The task fixtures' expected outputs (what bert.c's CLI tests demand) against the real pipelines.
    tk = os.path.join(ROOT, "tests", "fixtures", "tasks")

    def read(path):
        return [json.loads(l) for l in open(path, encoding="utf-8")]

    def task_fill_mask():
        d = os.path.join(tk, "mlm")
        fm = pipe("fill-mask", d, top_k=5)
        got = [plain(fm(i["text"])) for i in read(os.path.join(d, "inputs_fill_mask.jsonl"))]
        r = close(got, read(os.path.join(d, "expected_fill_mask.jsonl")))
        rep.add("tasks/mlm fill-mask pipeline == expected_fill_mask.jsonl", r is None, r or "")

    def task_classify(name):
        d = os.path.join(tk, name)
        tc = pipe("text-classification", d, top_k=None)
        got = [plain(tc({"text": i["text"], "text_pair": i["text_pair"]} if "text_pair" in i else i["text"]))
               for i in read(os.path.join(d, "inputs_classify.jsonl"))]
        r = close(got, read(os.path.join(d, "expected_classify.jsonl")))
        rep.add("tasks/%s text-classification pipeline == expected_classify.jsonl" % name, r is None, r or "")

    def task_ner(a):
        d = os.path.join(tk, "ner")
        nr = pipe("token-classification", d, aggregation_strategy=a)
        got = [plain(nr(i["text"])) for i in read(os.path.join(d, "inputs_ner_%s.jsonl" % a))]
        r = close(got, read(os.path.join(d, "expected_ner_%s.jsonl" % a)))
        rep.add("tasks/ner token-classification(%s) == expected_ner_%s.jsonl" % (a, a), r is None, r or "")

    def task_qa(exp, kw):
        d = os.path.join(tk, "qa")
        qa = pipe("question-answering", d)
        got = [plain(qa(question=i["question"], context=i["context"], max_seq_len=64, doc_stride=16,
                        max_answer_len=15, **kw)) for i in read(os.path.join(d, "inputs_%s.jsonl" % exp))]
        with open(os.path.join(out_dir, "hf_%s.jsonl" % exp), "w") as f:
            f.write("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in got))
        r = close(got, read(os.path.join(d, "expected_%s.jsonl" % exp)))
        rep.add("tasks/qa question-answering == expected_%s.jsonl" % exp, r is None, r or "",
                known=True)  # bert.c scores a start token only in its max-context window (README)

    def task_embed():
        d = os.path.join(tk, "sentence-transformer")
        st = sentence_transformers.SentenceTransformer(d, device="cpu")
        items = read(os.path.join(d, "inputs_embed.jsonl"))
        got = st.encode([i["text"] for i in items], convert_to_numpy=True).tolist()
        r = close(got, [e["embedding"] for e in read(os.path.join(d, "expected_embed.jsonl"))])
        rep.add("tasks/sentence-transformer SentenceTransformer.encode == expected_embed.jsonl", r is None, r or "")

    def task_rerank():
        d = os.path.join(tk, "cross-encoder")
        ce = sentence_transformers.CrossEncoder(d, device="cpu")
        got = []
        for q in read(os.path.join(d, "inputs_rerank.jsonl")):
            ranked = ce.rank(q["query"], q["documents"], return_documents=True)
            got.append({"results": [{"index": int(x["corpus_id"]), "score": float(x["score"]), "text": x["text"]}
                                    for x in ranked]})
        r = close(got, read(os.path.join(d, "expected_rerank.jsonl")))
        rep.add("tasks/cross-encoder CrossEncoder.rank == expected_rerank.jsonl", r is None, r or "")

    rep.guard("tasks/mlm fill-mask", task_fill_mask)
    for name in ("classifier", "cross-encoder"):
        rep.guard("tasks/%s classify" % name, task_classify, name)
    for a in AGGREGATIONS:
        rep.guard("tasks/ner " + a, task_ner, a)
    for exp, kw in (("qa", {}), ("qa_top3_impossible", {"top_k": 3, "handle_impossible_answer": True})):
        if has_task("question-answering"):
            rep.guard("tasks/qa " + exp, task_qa, exp, kw)
        else:
            rep.add("tasks/qa %s: no question-answering pipeline in transformers %s" % (exp, transformers.__version__),
                    False, "not compared", skipped=True)
    if sentence_transformers is not None:
        rep.guard("tasks/sentence-transformer", task_embed)
        rep.guard("tasks/cross-encoder rerank", task_rerank)

    # 4. The tokenizer golden file (made with HF tokenizers' Rust core through Node) against transformers'
    #    fast tokenizer and, where it still exists, the pure-Python BertTokenizer, on the default settings.
    def tokenizer_golden():
        import gzip
        import unicodedata
        cases = [json.loads(l) for l in gzip.open(os.path.join(ROOT, "tests", "fixtures", "tokenizer", "golden.jsonl.gz"),
                                                   "rt", encoding="utf-8")]
        cases = [c for c in cases if c.get("params") == {} and "text" in c and "expect" in c]
        for kind in ("uncased", "cased"):
            d = os.path.join(ROOT, "tests", "fixtures", "tokenizer", kind)
            mine = [c for c in cases if c["tok"] == kind]
            for cls_name in ("BertTokenizerFast", "BertTokenizer"):
                cls = getattr(transformers, cls_name, None)
                if cls is None:
                    continue
                try:
                    tok = cls.from_pretrained(d)
                except Exception as e:  # noqa: BLE001 - the cased set has only tokenizer.json
                    print("%s cannot load %s: %r" % (cls_name, kind, e), flush=True)
                    continue
                diffs = []
                for c in mine:
                    ids = tok(c["text"], c.get("text_pair"))["input_ids"]
                    if ids != c["expect"][0]["ids"]:
                        diffs.append({"text": c["text"], "text_pair": c.get("text_pair"), "golden": c["expect"][0]["ids"], "hf": ids})
                with open(os.path.join(out_dir, "tok_%s_%s.jsonl" % (kind, cls_name)), "w") as f:
                    f.write("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in diffs[:200]))
                # transformers' __call__ treats an empty text_pair as no pair at all; the Rust tokenizers
                # (and bert.c) encode it as an empty second segment: [CLS] a [SEP] [SEP].
                empty_pair = [x for x in diffs if x["text_pair"] == ""]
                # The pure-Python BertTokenizer (gone in transformers 5) classifies characters with
                # Python's own unicodedata, older than the Rust tables (code points it calls
                # unassigned, Cn, it drops), and its CJK ranges split some supplementary-plane
                # ideographs (U+20000..U+3FFFF) that the Rust library keeps inside words.
                old_tables = [x for x in diffs if x["text_pair"] != "" and cls_name == "BertTokenizer" and
                              any(unicodedata.category(ch) == "Cn" or 0x20000 <= ord(ch) <= 0x3FFFF
                                  for ch in x["text"] + (x["text_pair"] or ""))]
                rest = len(diffs) - len(empty_pair) - len(old_tables)
                rep.add("tokenizer golden (%s, %d texts) == transformers %s (%s)" % (kind, len(mine), cls_name,
                        type(tok).__name__), not diffs, "%d differ, %d of them an empty text_pair, %d (slow "
                        "tokenizer) with a code point Python %s's unicodedata %s calls unassigned or a "
                        "supplementary CJK ideograph" %
                        (len(diffs), len(empty_pair), len(old_tables), sys.version.split()[0],
                         unicodedata.unidata_version), known=rest == 0)

    rep.guard("tokenizer golden", tokenizer_golden)

    # 3. Models bert.c wrote, and the bundled models, against transformers.
    manifest = json.load(open(os.path.join(work, "manifest.json")))
    texts = SENTENCES

    def written(m):
        d = model_path(work, m)
        ours = json.load(open(os.path.join(work, "bertc", m["name"] + ".json"), encoding="utf-8"))
        name = m["name"]
        model = load_as_saved(name, d)
        if model is None:
            return
        # Tokenizer files: AutoTokenizer (fast) gives bert.c's encodings.
        tok = AutoTokenizer.from_pretrained(d)
        bad = 0
        for i, item in enumerate([{"text": t} for t in texts] + PAIRS):
            e = tok(item["text"], item.get("text_pair"))
            if e["input_ids"] != ours["tokenize"][i]["input_ids"] or \
                    e["token_type_ids"] != ours["tokenize"][i]["token_type_ids"]:
                bad += 1
        rep.add("%s AutoTokenizer (%s) ids == bert tokenize" % (name, type(tok).__name__), bad == 0,
                "%d of %d differ" % (bad, len(texts) + len(PAIRS)))
        # Hidden states of the encoder.
        worst = 0.0
        with torch.no_grad():
            for i, item in enumerate([{"text": t} for t in texts] + PAIRS):
                e = tok(item["text"], item.get("text_pair"), return_tensors="pt")
                o = model(**e, output_hidden_states=True)
                h = o.hidden_states[-1][0]
                ref = torch.tensor(ours["hidden"][i]["token_embeddings"])
                worst = max(worst, (h - ref).abs().max().item())
        rep.add("%s last hidden state == bert embed --pooling none" % name, worst <= TOL, "max|diff| %.2e" % worst)
        if "fill_mask" in m["tasks"]:
            fm = pipe("fill-mask", d, top_k=5)
            got = [plain(fm(t)) for t in FILL]
            r = close(got, ours["fill_mask"])
            rep.add("%s fill-mask pipeline == bert fill-mask" % name, r is None, r or "")
        if "nsp" in m["tasks"]:
            nsp = load(transformers.BertForNextSentencePrediction, d)[0]
            got = []
            with torch.no_grad():
                for p in PAIRS:
                    pr = torch.softmax(nsp(**tok(p["text"], p["text_pair"], return_tensors="pt")).logits[0].double(), 0)
                    got.append({"is_next": pr[0].item(), "not_next": pr[1].item()})
            r = close(got, ours["nsp"])
            rep.add("%s BertForNextSentencePrediction == bert nsp" % name, r is None, r or "")
        if "classify" in m["tasks"]:
            tc = pipe("text-classification", d, top_k=None)
            got = [plain(tc(t)) for t in texts] + [plain(tc(p)) for p in PAIRS]
            r = close(got, ours["classify"])
            rep.add("%s text-classification pipeline == bert classify" % name, r is None, r or "")
        if "ner" in m["tasks"]:
            for a in AGGREGATIONS:
                nr = pipe("token-classification", d, aggregation_strategy=a)
                got = [plain(nr(t)) for t in texts]
                r = close(got, ours["ner_" + a])
                rep.add("%s token-classification(%s) == bert ner" % (name, a), r is None, r or "")
        if "qa" in m["tasks"] and has_task("question-answering"):
            qa = pipe("question-answering", d)
            got = [plain(qa(question=q["question"], context=q["context"], top_k=3)) for q in QA]
            r = close(got, ours["qa"])
            rep.add("%s question-answering pipeline == bert qa" % name, r is None, r or "", known=True)

    for m in manifest:
        rep.guard(m["name"], written, m)

    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump({"versions": versions, "failed": rep.failed, "checks": rep.rows}, f, indent=1, ensure_ascii=False)
    print("%d checks, %d failed" % (len(rep.rows), rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "prepare":
        prepare(os.path.abspath(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "check":
        sys.exit(check(os.path.abspath(sys.argv[2]), sys.argv[3]))
    else:
        sys.exit(__doc__)
