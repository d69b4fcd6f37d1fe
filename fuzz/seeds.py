#!/usr/bin/env python3
"""Write the fuzz targets' seed corpora (fuzz/corpus/TARGET/) from the test
fixtures plus a few hand-made inputs. Usage: fuzz/seeds.py BERT_BINARY
(from the repository root; the binary makes the prepared-corpus seed).
The first byte of a data-reader seed is the target's selector byte (see
each fuzz/TARGET.c)."""
import gzip, json, os, struct, subprocess, sys, tempfile

FIX = "tests/fixtures"
SEP = b"\n--8<--\n"


def put(target, name, data):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def safetensors(header, payload=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + payload


# safetensors: a real small file and hand-made edge cases.
put("safetensors", "golden_tiny", read(f"{FIX}/models/tiny-pretraining/golden.safetensors"))
put("safetensors", "two_f32", safetensors({"__metadata__": {"format": "pt"},
                                           "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                           "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [8, 12]}}, bytes(12)))
put("safetensors", "scalar_f16", safetensors({"s": {"dtype": "F16", "shape": [], "data_offsets": [0, 2]}}, bytes(2)))
put("safetensors", "empty_tensor", safetensors({"e": {"dtype": "I64", "shape": [0, 3], "data_offsets": [0, 0]}}))

# tasks files of bert multitask.
put("task_list", "presets", b'{"tasks": [{"preset": "rte", "max_train": 50, "loss_weight": 2}, {"preset": "ncbi"}]}')
put("task_list", "files", json.dumps([
    {"name": "intent", "type": "sequence", "train": "a.tsv", "dev": "/b.tsv", "text_column": "utterance",
     "labels": ["x", "y"], "problem": "multi_label", "batch_size": 8, "no_header": False},
    {"name": "tags", "type": "token", "train": "t.conll", "dev": "d.conll", "tag_scheme": "iob2",
     "label_all_tokens": True, "metric": "precision", "max_seq_len": 64}]).encode())
put("task_list", "bad_key", b'[{"preset": "rte", "colour": 1}]')

# dialogue turns: JSONL, SGD dialogues and the SNIPS layout (selector byte: even JSONL, odd layout).
put("dialogue", "turns", b"\x00" + read(f"{FIX}/dialogue/turns.jsonl"))
put("dialogue", "sgd", b"\x00" + read(f"{FIX}/dialogue/sgd.jsonl"))
put("dialogue", "layout", b"\x01" + SEP.join(b"".join(read(f"{FIX}/dialogue/layout/train/{f}").splitlines(True)[:4])
                                             for f in ("seq.in", "seq.out", "label")))

# config.json: every fixture config.
for root, _, files in os.walk(FIX):
    for f in files:
        if f == "config.json":
            put("config", root.replace("/", "_"), read(os.path.join(root, f)))

# tokenizer: vocab.txt, tokenizer.json, tokenizer_config.json (see fuzz/tokenizer.c).
vocab = read(f"{FIX}/tasks/mlm/vocab.txt")
tcfg = read(f"{FIX}/tasks/mlm/tokenizer_config.json")
tj = json.dumps({"version": "1.0", "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
    {"id": 3, "content": "[MASK]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[MASK]": 3, "[SEP]": 4, "hello": 5, "world": 6, "##s": 7, ",": 8}}}).encode()
put("tokenizer", "vocab_only", vocab)
put("tokenizer", "vocab_config", vocab + SEP + SEP + tcfg)
put("tokenizer", "json_only", SEP + tj)
put("tokenizer", "json_config", SEP + tj + SEP + tcfg)

# JSONL requests: the task fixtures' inputs (selector: batch size, skip/stop).
n = 0
for root, _, files in os.walk(f"{FIX}/tasks"):
    for f in sorted(files):
        if f.startswith("inputs_") and f.endswith(".jsonl"):
            put("jsonl_request", f"{os.path.basename(root)}_{f}", bytes([n % 64]) + read(os.path.join(root, f)))
            n += 1
put("jsonl_request", "bad_lines", b"\x27" + b'{"text":"a"}\n\nnot json\n{"text":5}\n{"text":"C:\\\\u0000"}\n{"text":"\\u0000"}\n[1]\n{"text":"b","text_pair":"c"}')

# Text classification examples (selector: even TSV, odd JSONL; columns).
for i, f in enumerate(["train.tsv", "dev.tsv", "multi_train.tsv", "bad_columns.tsv", "bad_label.tsv"]):
    put("text_examples", f, bytes([0]) + read(f"{FIX}/finetune/{f}"))
put("text_examples", "numbered.tsv", bytes([2]) + b"a b\tc\t1\nd\te\t0\n")
put("text_examples", "pairs.jsonl", bytes([5]) + b'{"text":"a","text_pair":"b","label":1}\n{"text":"c","text_pair":"d","label":"x"}\n')
put("text_examples", "single.jsonl", bytes([9]) + b'{"text":"a","label":0.5}\n\n{"text":"b","label":"neg"}\n')

# Tagged sentences (selector: even CoNLL, odd JSONL).
put("tagged", "ner_dev.conll", bytes([0]) + read(f"{FIX}/finetune/ner_dev.conll"))
put("tagged", "ner_train.jsonl", bytes([1]) + read(f"{FIX}/finetune/ner_train.jsonl"))
put("tagged", "bioes.conll", bytes([0]) + b"-DOCSTART- -X- O O\n\nA x S-PER\nb x B-LOC\nc x E-LOC\n\nd\tI-ORG\n")

# QA data (selector % 3: 0 SQuAD JSON, 1 SubjQA CSV, 2 gzip'd JSON; bit 7: limit 2).
for f in ["qa_dev.json", "qa_dev_v2.json", "qa_train.json"]:
    put("qa_data", f, bytes([0]) + read(f"{FIX}/finetune/{f}"))
put("qa_data", "qa_dev.json.gz", bytes([2]) + gzip.compress(read(f"{FIX}/finetune/qa_dev.json"), mtime=0))
put("qa_data", "subjqa.csv", bytes([1]) + (
    b"q_review_id,question,review,human_ans_indices,human_ans_spans\n"
    b'r1,"What is good?","The food is good. ANSWERNOTFOUND","(4, 8)","food"\n'
    b'r2,how?,"nothing here ANSWERNOTFOUND","(13, 27)",ANSWERNOTFOUND\n'))

# Pre-training corpus (selector bit 0 split sentences, bit 1 prose), text and prepared.
text = read(f"{FIX}/finetune/pretrain_corpus.txt")
put("corpus", "lines.txt", bytes([0]) + text)
put("corpus", "split.txt", bytes([1]) + text)
put("corpus", "prose.txt", bytes([3]) + text)
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "c.bin")
    subprocess.run([sys.argv[1], "prepare", f"{FIX}/tasks/mlm", "--corpus", f"{FIX}/finetune/pretrain_corpus.txt",
                    "--output", out], check=True, stderr=subprocess.DEVNULL)
    put("corpus", "prepared.bin", bytes([0]) + read(out))
