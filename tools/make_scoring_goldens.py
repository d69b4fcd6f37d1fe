#!/usr/bin/env python3
"""make_scoring_goldens.py — the scoring peers' answers on crafted inputs,
for bert.c's SQuAD scoring (src/tasks/squad*.c) and seqeval
(src/tasks/seqeval*.c) tests.

Peers (run from the project venv: py=$(tools/pyenv.sh seqeval evaluate)):
  - seqeval (PyPI): classification_report(output_dict=True), accuracy_score,
    auto_detect, in its default mode and mode='strict' with each scheme.
  - the official SQuAD scripts as the `evaluate` package ships them:
    evaluate.load("squad") / evaluate.load("squad_v2"). Those load the
    metric scripts from the Hugging Face hub at run time; offline, set
    BERT_EVALUATE_METRICS to a local copy of huggingface/evaluate's
    metrics/ folder (squad/ and squad_v2/ in it; the goldens were made from
    commit a7dd338386a4fae9a1767e05eb9ef9479513d9e8) and they are loaded
    from there with evaluate.load(PATH). The v1.1 JSON is
    json.dumps(compute_score(data, predictions)) and the v2.0 JSON is what
    evaluate-v2.0.py's main() prints (json.dumps(out_eval, indent=2)), made
    with the metric module's own functions (make_qid_to_has_ans,
    get_raw_scores, apply_no_ans_threshold, make_eval_dict, merge_eval,
    find_all_best_thresh) in the order main() calls them.

Commands:
  write [DIR]        regenerate the goldens (default tests/fixtures/conformance/scoring)
  seqeval [DIR]      only seqeval's (seqeval_goldens.json)
  squad DATA PREDS [--na-prob F] [--na-prob-thresh T] [--version 1.1|2.0]
                     print the official script's JSON for these files
  devpreds DATA OUT  write a predictions file with a mix of right, partial,
                     empty, missing and wrong answers for DATA's questions
Exit status 3 (one line on stderr) when a peer cannot be loaded.
"""
import contextlib
import gzip
import json
import os
import random
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures", "conformance", "scoring")


def unavailable(why):
    print("make_scoring_goldens: " + why, file=sys.stderr)
    sys.exit(3)


# --------------------------------------------------------------------------
# SQuAD


def load_metric_module(name):
    """The module of evaluate's metric `name` ("squad" or "squad_v2")."""
    try:
        import evaluate
    except ImportError as e:
        unavailable("cannot import evaluate: %s" % e)
    local = os.environ.get("BERT_EVALUATE_METRICS")
    errors = []
    for where in ([os.path.join(local, name)] if local else []) + [name]:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                metric = evaluate.load(where)
            return sys.modules[type(metric).__module__]
        except Exception as e:  # offline: the hub cannot be reached
            errors.append("%s: %s" % (where, str(e).splitlines()[0] if str(e) else type(e).__name__))
    unavailable("evaluate cannot load the %s metric (%s); offline, set BERT_EVALUATE_METRICS to a copy of "
                "huggingface/evaluate's metrics/ folder" % (name, "; ".join(errors)))


def read_json(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw.decode("utf-8"))


def squad_version(dataset_json):
    """The rules bert.c picks with version AUTO (the user picks the script)."""
    for article in dataset_json["data"]:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                if not qa["answers"] or "is_impossible" in qa:
                    return 2
    return 2 if "2." in str(dataset_json.get("version", "")) else 1


def squad_official(data_path, pred_path, na_path=None, thresh=1.0, version=None):
    """(stdout, stderr) of the official script for these files."""
    dataset_json = read_json(data_path)
    preds = read_json(pred_path)
    version = version or squad_version(dataset_json)
    err = []
    if version == 1:
        mod = load_metric_module("squad")
        if dataset_json.get("version") != "1.1" and "version" in dataset_json:
            err.append("Evaluation expects v-1.1, but got dataset with v-" + dataset_json["version"])
        buf = __import__("io").StringIO()
        with contextlib.redirect_stderr(buf):
            out = json.dumps(mod.compute_score(dataset_json["data"], preds)) + "\n"
        err += buf.getvalue().splitlines()
        return out, err
    mod = load_metric_module("squad_v2")
    # evaluate's copy reads answers as {"text": [...]} (its references format)
    dataset = [{"paragraphs": [{"qas": [dict(qa, answers={"text": [a["text"] for a in qa["answers"]]})
                                        for qa in p["qas"]]} for p in art["paragraphs"]]}
               for art in dataset_json["data"]]
    na_probs = read_json(na_path) if na_path else {k: 0.0 for k in preds}
    with contextlib.redirect_stdout(sys.stderr):  # get_raw_scores prints missing ids
        qid_to_has_ans = mod.make_qid_to_has_ans(dataset)
        has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
        no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
        exact_raw, f1_raw = mod.get_raw_scores(dataset, preds)
        exact_thresh = mod.apply_no_ans_threshold(exact_raw, na_probs, qid_to_has_ans, thresh)
        f1_thresh = mod.apply_no_ans_threshold(f1_raw, na_probs, qid_to_has_ans, thresh)
        out_eval = mod.make_eval_dict(exact_thresh, f1_thresh)
        if has_ans_qids:
            mod.merge_eval(out_eval, mod.make_eval_dict(exact_thresh, f1_thresh, qid_list=has_ans_qids), "HasAns")
        if no_ans_qids:
            mod.merge_eval(out_eval, mod.make_eval_dict(exact_thresh, f1_thresh, qid_list=no_ans_qids), "NoAns")
        if na_path:
            mod.find_all_best_thresh(out_eval, preds, exact_raw, f1_raw, na_probs, qid_to_has_ans)
    return json.dumps(out_eval, indent=2) + "\n", err


SQUAD_RUNS = [  # golden file, data, predictions, na probs, threshold
    ("squad_v1.expected.json", "squad_v1.json", "squad_v1_predictions.json", None, 1.0),
    ("squad_v2.expected.json", "squad_v2.json", "squad_v2_predictions.json", None, 1.0),
    ("squad_v2_na.expected.json", "squad_v2.json", "squad_v2_predictions.json", "squad_v2_na_probs.json", 1.0),
    ("squad_v2_na_t05.expected.json", "squad_v2.json", "squad_v2_predictions.json", "squad_v2_na_probs.json", 0.5),
    ("squad_v2_na_int.expected.json", "squad_v2.json", "squad_v2_predictions.json", "squad_v2_na_probs_int.json", 0.5),
]


def write_squad(out_dir):
    for golden, data, preds, na, thresh in SQUAD_RUNS:
        out, _ = squad_official(os.path.join(FIXTURES, data), os.path.join(FIXTURES, preds),
                                os.path.join(FIXTURES, na) if na else None, thresh)
        with open(os.path.join(out_dir, golden), "w") as f:
            f.write(out)


def dev_predictions(data_path, out_path):
    """Predictions for every question of a real data set: right (first,
    last gold), partial (a word), empty, wrong and missing, in a fixed
    rotation."""
    preds = {}
    k = 0
    for article in read_json(data_path)["data"]:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                golds = [a["text"] for a in qa["answers"]] or [""]
                kind = k % 6
                k += 1
                if kind == 5:
                    continue  # missing
                words = golds[0].split()
                preds[qa["id"]] = [golds[0], golds[-1], words[-1] if words else "", "", "the " + golds[0] + " thing"][kind]
    with open(out_path, "w") as f:
        json.dump(preds, f, ensure_ascii=False)


# --------------------------------------------------------------------------
# seqeval


def seqeval_cases():
    """(name, gold, pred, modes) crafted to cover each scheme's rules."""
    rng = random.Random(22)
    types = ["PER", "LOC", "ORG", "MISC", "DATE", "GPE", "NORP", "EVENT", "LAW", "WORK"]

    def noisy(prefixes, n_sent):
        gold, pred = [], []
        for _ in range(n_sent):
            g = [rng.choice(["O", "O"] + [p + "-" + rng.choice(types) for p in prefixes]) for _ in range(rng.randint(1, 12))]
            q = [t if rng.random() < 0.7 else rng.choice(["O"] + [p + "-" + rng.choice(types) for p in prefixes]) for t in g]
            gold.append(g)
            pred.append(q)
        return gold, pred

    all_modes = ["default", "strict", "IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU"]
    cases = [
        ("readme", [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]],
         [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]], all_modes),
        ("test_v1_output_dict", [["B-A", "B-B", "O", "B-A"]], [["O", "B-B", "B-C", "B-A"]], all_modes),
        ("iob1_data", [["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-ORG"]],
         [["I-PER", "B-PER", "O", "I-LOC", "I-LOC", "I-LOC", "O", "B-ORG"]], all_modes),
        ("ioe_data", [["I-PER", "E-PER", "O", "E-LOC", "I-ORG", "I-ORG", "E-ORG", "I-MISC"]],
         [["I-PER", "E-PER", "O", "I-LOC", "E-LOC", "I-ORG", "E-ORG", "E-MISC"]], all_modes),
        ("iobes_typed", [["S-LOC", "O", "B-PER", "I-PER", "E-PER", "B-ORG", "O", "I-ORG", "E-ORG"]],
         [["S-LOC", "O", "B-PER", "E-PER", "S-PER", "B-ORG", "E-ORG", "I-ORG", "E-ORG"]], all_modes),
        ("iobes_untyped", [["B", "I", "E", "O", "S", "B", "E", "I", "S"]], [["B", "E", "S", "O", "S", "B", "I", "E", "S"]],
         all_modes),
        ("bilou_typed", [["U-LOC", "O", "B-PER", "I-PER", "L-PER", "B-ORG", "L-ORG", "I-ORG", "U-ORG"]],
         [["U-LOC", "O", "B-PER", "L-PER", "U-PER", "B-ORG", "L-ORG", "L-ORG", "U-ORG"]], all_modes),
        ("bilou_untyped", [["B", "I", "L", "O", "U", "B", "L"]], [["B", "L", "U", "O", "U", "B", "I"]], all_modes),
        ("iob2_untyped", [["B", "I", "O", "B", "B", "I", "I"]], [["B", "O", "I", "B", "B", "I", "O"]], all_modes),
        ("ioe2_untyped", [["I", "E", "O", "E", "I", "I", "E"]], [["I", "E", "E", "O", "I", "E", "E"]], all_modes),
        ("odd_types", [["B-ORG-COMPANY", "I-ORG-COMPANY", "O", "B-組織", "I-組織", "B-", "I-", "O", "B--X-", "I--X-"]],
         [["B-ORG-COMPANY", "I-ORG", "O", "B-組織", "I-組織", "B-", "I-", "O", "B--X-", "I--X-"]], all_modes),
        ("odd_prefixes_default", [["X-PER", "X-PER", "O", ".", "B-LOC", "OTHER", "I-LOC", "XY", "O"]],
         [["X-PER", "O", "O", ".", "B-LOC", "O", "I-LOC", "XY", "B"]], ["default", "strict"]),
        ("sentence_boundaries", [["B-PER", "I-PER"], ["I-PER", "I-PER"], ["O"], ["E-LOC"], ["S-LOC", "I-LOC"]],
         [["B-PER", "I-PER"], ["B-PER", "I-PER"], ["O"], ["I-LOC"], ["S-LOC", "I-LOC"]], all_modes),
        ("no_entities", [["O", "O"], ["O"]], [["O", "O"], ["O"]], all_modes),
        ("pred_only", [["O", "O", "O"]], [["B-PER", "I-PER", "O"]], ["default", "IOB2"]),
        ("mixed_schemes_gold", [["B-PER", "E-PER", "S-PER"]], [["B-PER", "E-PER", "S-PER"]], all_modes),
    ]
    g, p = noisy(["B", "I"], 40)
    cases.append(("random_iob_10_types", g, p, all_modes))
    g, p = noisy(["B", "I", "E", "S"], 40)
    cases.append(("random_iobes_10_types", g, p, all_modes))
    g, p = noisy(["B", "I", "L", "U"], 25)
    cases.append(("random_bilou_10_types", g, p, all_modes))
    return cases


def seqeval_run(gold, pred, mode):
    from seqeval import scheme as sch
    from seqeval.metrics import accuracy_score, classification_report
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if mode == "default":
                rep, detected = classification_report(gold, pred, output_dict=True), None
            else:
                chosen = None if mode == "strict" else getattr(sch, mode)
                detected = (chosen or sch.auto_detect(gold)).__name__
                rep = classification_report(gold, pred, output_dict=True, mode="strict", scheme=chosen)
        except (ValueError, KeyError, IndexError) as e:
            return {"error": type(e).__name__ + ": " + str(e)}
        acc = accuracy_score(gold, pred)

    def num(x):
        x = float(x)
        return None if x != x else x  # nan (no types) -> null

    report = {name: {"precision": num(r["precision"]), "recall": num(r["recall"]), "f1-score": num(r["f1-score"]),
                     "support": int(r["support"])} for name, r in rep.items()}
    return {"report": report, "accuracy": float(acc), "scheme": detected}


def write_seqeval(out_dir):
    import seqeval
    out = []
    for name, gold, pred, modes in seqeval_cases():
        for mode in modes:
            out.append(dict(name=name, mode=mode, gold=gold, pred=pred, **seqeval_run(gold, pred, mode)))
    with open(os.path.join(out_dir, "seqeval_goldens.json"), "w") as f:
        json.dump({"seqeval": getattr(seqeval, "__version__", None) or version_of("seqeval"), "cases": out}, f,
                  ensure_ascii=False, indent=0)
        f.write("\n")


def version_of(pkg):
    from importlib import metadata
    return metadata.version(pkg)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "write"
    if cmd in ("write", "seqeval"):
        out_dir = argv[2] if len(argv) > 2 else FIXTURES
        os.makedirs(out_dir, exist_ok=True)
        try:
            import seqeval  # noqa: F401
        except ImportError as e:
            unavailable("cannot import seqeval: %s" % e)
        write_seqeval(out_dir)
        if cmd == "write":
            write_squad(out_dir)
            with open(os.path.join(out_dir, "peers.txt"), "w") as f:
                f.write("python %s\nseqeval %s\nevaluate %s\nnumpy %s\n" % (sys.version.split()[0], version_of("seqeval"),
                        version_of("evaluate"), version_of("numpy")))
                f.write("evaluate metrics: squad, squad_v2 of huggingface/evaluate a7dd338386a4fae9a1767e05eb9ef9479513d9e8\n")
        return 0
    if cmd == "squad":
        args = argv[2:]
        na, thresh, version = None, 1.0, None
        files = []
        i = 0
        while i < len(args):
            if args[i] in ("--na-prob", "--na-prob-file"):
                na, i = args[i + 1], i + 2
            elif args[i] == "--na-prob-thresh":
                thresh, i = float(args[i + 1]), i + 2
            elif args[i] == "--version":
                version, i = (1 if args[i + 1].endswith("1.1") else 2), i + 2
            else:
                files.append(args[i])
                i += 1
        out, err = squad_official(files[0], files[1], na, thresh, version)
        for line in err:
            print(line, file=sys.stderr)
        sys.stdout.write(out)
        return 0
    if cmd == "devpreds":
        dev_predictions(argv[2], argv[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
