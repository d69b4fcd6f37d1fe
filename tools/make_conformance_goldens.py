#!/usr/bin/env python3
"""Conformance goldens made by the peers themselves, for the C tests in
tests/tokenizer/test_added_tokens.c and tests/tasks/test_pooling_st.c.

    tools/make_conformance_goldens.py [--part tokenizers|st|all] [--out DIR]

Run it in the project venv (tools/pyenv.sh) or any Python that has the
peer packages; it imports them and nothing of bert.c.

  tokenizers: two small WordPiece tokenizers (uncased and cased) built with
    Hugging Face `tokenizers`, with added tokens of every kind
    (normalized true/false, lstrip, rstrip, single_word, special or not),
    saved as tokenizer.json; then Tokenizer.from_file(...).encode() and
    .decode() on hand-made texts that probe each rule. Also the same tokens
    added to a slow transformers BertTokenizer and saved (vocab.txt +
    tokenizer_config.json's added_tokens_decoder), encoded by
    AutoTokenizer.from_pretrained (the converted fast tokenizer). Writes
    DIR/added-<name>/ and DIR/added_tokens.jsonl.

  st: sentence-transformers model directories built from the random-weight
    BERT fixture tests/fixtures/tasks/sentence-transformer (its weights and
    vocabulary), each with a Pooling config (every mode, several at once,
    include_prompt), Dense modules (Tanh / Identity / ReLU, with and without
    bias) and Normalize in modules.json order, and prompts; then
    SentenceTransformer(dir).encode(texts). Writes DIR/st-<name>/ (configs
    and the Dense weights only; the BERT weights and vocabulary are the
    fixture's, copied in by the test) and DIR/st_embeddings.jsonl.

Every file written is small; the versions of the peers go into each
golden line ("peer").
"""
import argparse
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "conformance")
ST_BASE = os.path.join(ROOT, "tests", "fixtures", "tasks", "sentence-transformer")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Words of the vocabulary (besides every character of the texts and its
# "##" form), so that WordPiece has whole words and pieces to choose from.
WORDS = ["the", "a", "i", "read", "book", "day", "yes", "yester", "##day", "##ter", "hello", "world", "foo",
         "##foo", "bar", "##bar", "ab", "##c", "##cd", "res", "##ume", "c", "x", "ent", "##s", "un", "##able",
         "The", "Hello", "Foo", "BAR", "Yes", "##Day", "is", "it", "not", "to", "and"]


def added_token_specs():
    """(content, kwargs) of the added tokens, in the order they are added."""
    return [
        ("Yesterday", dict(normalized=True)),            # add_tokens() default: matched normalized
        ("c++", dict(normalized=True)),                  # punctuation inside: cut before pre-tokenizing
        ("中文", dict(normalized=True)),                  # CJK: the normalized pattern has spaces
        ("Résumé", dict(normalized=True)),               # accents stripped when lowercasing
        ("hello world", dict(normalized=True)),          # a space inside
        ("abc", dict(normalized=True)),                  # outside the vocabulary: WordPiece never makes it
        ("the", dict(normalized=True, single_word=True)),  # already in the vocabulary
        ("foo", dict(normalized=True, single_word=True)),
        ("BAR", dict(normalized=False, single_word=True)),
        ("<ent>", dict(normalized=False, lstrip=True, rstrip=True)),
        ("<en", dict(normalized=False)),                 # shorter, same start: longest wins
        ("<E>", dict(normalized=False, lstrip=True)),
        ("[E1]", dict(normalized=False, rstrip=True, special=True)),
        ("[NS]", dict(normalized=False, special=False)),
        ("<mask>", dict(normalized=True, lstrip=True, special=True)),
    ]


TEXTS = [
    "I read a book Yesterday",
    "I read a book yesterday and YESTERDAY",
    "yesterdays are not Yesterday's",
    "c++ is not c + + or C++",
    "中文 and 中文字 and 中 文",
    "my résumé, my Résumé, my RESUME and resume",
    "hello world, hello  world, Hello World, helloworld",
    "abc abcd xabc ab",
    "the theater other the. (the) _the the1",
    "foo foobar barfoo foo. (foo) foo_ foo1 éfoo fooé 中foo foo中 Foo",
    "BAR bar BARn xBAR BAR. BAR_ BAR",
    "a   <ent>   b <ent><ent>  <en <entx",
    "x<ent>y\t<ent>\n z",
    "a  <E>  b<E>c <E><E>",
    "[E1]   x [E1][E1] y[E1]z",
    "[NS] x[NS]y [CLS] [MASK] [SEP]",
    "a <mask> b  <mask>c <MASK>",
    "[CLS]foo[SEP]the[MASK]",
    "",
    "   ",
    "Yesterday",
    "\u3000<ent>\u3000foo\u3000",
    "ｆｏｏ foo",
    "Ｙｅｓｔｅｒｄａｙ",
    "yes\u0301terday yésterday",
    "the\u200bthe foo\u00adbar",
]

PAIRS = [
    ("Yesterday <ent> foo", "the BAR [E1] x"),
    ("c++", "中文 abc"),
]


def build_tokenizer(lower, texts):
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {}
    for s in SPECIALS:
        vocab.setdefault(s, len(vocab))
    chars = sorted({c for t in texts for c in (t.lower() if lower else t) if not c.isspace()})
    for w in WORDS + chars + ["##" + c for c in chars]:
        if lower and not w.startswith("##") and w.lower() != w:
            continue
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=lower)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in SPECIALS])
    for content, kw in added_token_specs():
        special = kw.pop("special", False)
        t = AddedToken(content, special=special, **kw)
        if special:
            tok.add_special_tokens([t])
        else:
            tok.add_tokens([t])
    return tok


def vocab_txt_goldens(out):
    """A vocab.txt tokenizer whose added tokens are in tokenizer_config.json's
    added_tokens_decoder (what a slow BertTokenizer saves), as transformers'
    AutoTokenizer converts and runs it (no decode: transformers' own)."""
    import transformers
    from tokenizers import AddedToken
    from transformers import AutoTokenizer, BertTokenizer

    peer = "transformers " + transformers.__version__
    d = os.path.join(out, "added-vocab-txt")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    all_texts = TEXTS + [x for p in PAIRS for x in p]
    chars = sorted({c for t in all_texts for c in t.lower() if not c.isspace()})
    words = []
    for w in SPECIALS + [w for w in WORDS if w.lower() == w or w.startswith("##")] + chars + ["##" + c for c in chars]:
        if w not in words:
            words.append(w)
    vocab = os.path.join(d, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")
    slow = BertTokenizer(vocab, do_lower_case=True)
    for content, kw in added_token_specs():
        kw = dict(kw)
        special = kw.pop("special", False)
        slow.add_tokens([AddedToken(content, special=special, **kw)], special_tokens=special)
    slow.save_pretrained(d)
    for extra in ("added_tokens.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(d, extra)):
            os.remove(os.path.join(d, extra))
    fast = AutoTokenizer.from_pretrained(d)
    lines = []
    for text, pair in [(t, None) for t in TEXTS] + list(PAIRS):
        e = fast(text, pair, return_offsets_mapping=True, return_special_tokens_mask=True)
        lines.append({
            "tokenizer": "added-vocab-txt", "text": text, "pair": pair, "peer": peer,
            "ids": e["input_ids"], "type_ids": e["token_type_ids"], "tokens": e.tokens(),
            "offsets": [list(o) for o in e["offset_mapping"]],
            "word_ids": [-1 if w is None else w for w in e.word_ids()],
            "special_tokens_mask": e["special_tokens_mask"],
        })
    return lines


def tokenizer_goldens(out):
    import tokenizers
    from tokenizers import Tokenizer

    peer = "tokenizers " + tokenizers.__version__
    lines = []
    for name, lower in (("uncased", True), ("cased", False)):
        d = os.path.join(out, "added-" + name)
        os.makedirs(d, exist_ok=True)
        all_texts = TEXTS + [x for p in PAIRS for x in p]
        build_tokenizer(lower, all_texts).save(os.path.join(d, "tokenizer.json"))
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": lower, "tokenizer_class": "BertTokenizer"}, f, indent=2)
            f.write("\n")
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))  # what bert.c reads
        cases = [(t, None) for t in TEXTS] + list(PAIRS)
        for text, pair in cases:
            e = tok.encode(text, pair) if pair is not None else tok.encode(text)
            lines.append({
                "tokenizer": "added-" + name, "text": text, "pair": pair, "peer": peer,
                "ids": e.ids, "type_ids": e.type_ids, "tokens": e.tokens,
                "offsets": [list(o) for o in e.offsets], "word_ids": [-1 if w is None else w for w in e.word_ids],
                "special_tokens_mask": e.special_tokens_mask,
                "decode": tok.decode(e.ids, skip_special_tokens=False),
                "decode_skip_special": tok.decode(e.ids, skip_special_tokens=True),
            })
    lines += vocab_txt_goldens(out)
    path = os.path.join(out, "added_tokens.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{path}: {len(lines)} cases ({peer})")


ST_BASE_FILES = ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]

ST_TEXTS = [
    "The cat sat on the mat.",
    "A very long sentence that goes on and on, well past the sentence-transformers limit of sixteen tokens.",
    "Zürich ☃",
    "hi",
    "",
]


def st_variants():
    """(name, pooling kwargs, [module specs after Pooling], prompts, default prompt name, encode calls)."""
    plain = [dict()]
    prompted = [dict(), dict(prompt_name="query"), dict(prompt="a long custom prompt of many words: ")]
    one = lambda mode: {"pooling_mode": mode}  # noqa: E731
    return [
        ("cls", one("cls"), [], None, None, plain),
        ("max", one("max"), [], None, None, plain),
        ("mean_sqrt_len", one("mean_sqrt_len_tokens"), [], None, None, plain),
        ("weightedmean", one("weightedmean"), [], None, None, plain),
        ("lasttoken", one("lasttoken"), [], None, None, plain),
        ("cls_mean", dict(pooling_mode_cls_token=True, pooling_mode_mean_tokens=True), [], None, None, plain),
        ("all_modes", dict(pooling_mode_cls_token=True, pooling_mode_mean_tokens=True, pooling_mode_max_tokens=True,
                           pooling_mode_mean_sqrt_len_tokens=True, pooling_mode_weightedmean_tokens=True,
                           pooling_mode_lasttoken=True), ["Normalize"], None, None, plain),
        ("mean_dense_tanh_norm", {}, [("Dense", 24, True, "Tanh"), "Normalize"], None, None, plain),
        ("cls_max_two_dense", dict(pooling_mode_cls_token=True, pooling_mode_max_tokens=True,
                                   pooling_mode_mean_tokens=False),
         [("Dense", 16, False, "Identity"), ("Dense", 8, True, "ReLU")], None, None, plain),
        ("lasttoken_dense_gelu", one("lasttoken"), [("Dense", 32, True, "GELU"), "Normalize"], None, None, plain),
        ("mean_norm_dense_sigmoid", {}, ["Normalize", ("Dense", 12, True, "Sigmoid")], None, None, plain),
        ("weightedmean_no_prompt", dict(pooling_mode="weightedmean", include_prompt=False), [],
         {"query": "query: ", "none": ""}, None, prompted),
        ("mean_prompt_included", {}, [], {"query": "query: "}, None, prompted),
        ("cls_max_mean_default_prompt", dict(pooling_mode_cls_token=True, pooling_mode_max_tokens=True,
                                             pooling_mode_mean_tokens=True, include_prompt=False),
         [], {"query": "query: ", "passage": "passage: "}, "passage", prompted + [dict(prompt_name="query")]),
        ("lasttoken_max_no_prompt", dict(pooling_mode_lasttoken=True, pooling_mode_max_tokens=True,
                                         pooling_mode_mean_tokens=False, include_prompt=False), [],
         {"query": "query: "}, None, prompted),
    ]


def st_goldens(out):
    import tempfile

    import numpy as np
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer, models

    peer = f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}"
    acts = {"Tanh": torch.nn.Tanh, "Identity": torch.nn.Identity, "ReLU": torch.nn.ReLU,
            "Sigmoid": torch.nn.Sigmoid, "GELU": torch.nn.GELU}
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "base")
        os.makedirs(base)
        for f in ST_BASE_FILES:
            shutil.copy(os.path.join(ST_BASE, f), base)
        for name, pool_kw, mods, prompts, default, calls in st_variants():
            torch.manual_seed(sum(map(ord, name)))
            word = models.Transformer(base, max_seq_length=16)
            hidden = word.get_word_embedding_dimension()
            modules = [word, models.Pooling(hidden, **pool_kw)]
            dim = modules[-1].get_sentence_embedding_dimension()
            for m in mods:
                if m == "Normalize":
                    modules.append(models.Normalize())
                    continue
                _, n_out, bias, act = m
                modules.append(models.Dense(dim, n_out, bias=bias, activation_function=acts[act]()))
                dim = n_out
            model = SentenceTransformer(modules=modules, prompts=prompts, default_prompt_name=default, device="cpu")
            full = os.path.join(tmp, name)
            model.save(full, create_model_card=False)
            # The directory bert.c reads: the fixture's BERT files and what
            # sentence-transformers wrote for its own modules.
            d = os.path.join(out, "st-" + name)
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            for f in ["modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"]:
                shutil.copy(os.path.join(full, f), d)
            with open(os.path.join(full, "modules.json")) as f:
                for m in json.load(f)[1:]:
                    if m["path"]:
                        shutil.copytree(os.path.join(full, m["path"]), os.path.join(d, m["path"]))
                        for f in os.listdir(os.path.join(d, m["path"])):
                            os.chmod(os.path.join(d, m["path"], f), 0o644)
            run = os.path.join(tmp, name + "-run")
            shutil.copytree(d, run)
            for f in ST_BASE_FILES:
                shutil.copy(os.path.join(ST_BASE, f), run)
            st = SentenceTransformer(run, device="cpu")
            for call in calls:
                emb = st.encode(ST_TEXTS, convert_to_numpy=True, batch_size=2, **call)
                lines.append({"model": "st-" + name, "texts": ST_TEXTS, "prompt": call.get("prompt"),
                              "prompt_name": call.get("prompt_name"), "dim": int(emb.shape[1]), "peer": peer,
                              "embeddings": [[float(f"{x:.9g}") for x in np.asarray(r, dtype=np.float64)] for r in emb]})
    path = os.path.join(out, "st_embeddings.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{path}: {len(lines)} encode calls ({peer})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["tokenizers", "st", "all"], default="all")
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.part in ("tokenizers", "all"):
        tokenizer_goldens(a.out)
    if a.part in ("st", "all"):
        st_goldens(a.out)


if __name__ == "__main__":
    sys.exit(main())
