#!/usr/bin/python3
"""Write the torch checkpoint fixtures (tests/fixtures/torch/*) with torch.save,
from the safetensors fixture models, so that each has a safetensors twin
holding the same tensors.

    /usr/bin/python3 tools/make_torch_fixtures.py

Needs torch (Debian's python3-torch is enough). Also writes the seeds of the
fuzz targets torch, pickle and zip (fuzz/corpus/{torch,pickle,zip}/): tiny
state dicts in both formats, their data.pkl and a deflated archive. Each fixture directory holds
config.json (copied from its twin), the checkpoint, and TWIN (the twin's
directory, relative to the repository root):

  zip-f32-shared   tiny-pretraining, zip container, F32; the tied decoder
                   stored as the word embeddings' storage (shared), query /
                   key / value as views of one fused [3C, C] storage (offsets)
  legacy-f32       tiny-pretraining, the legacy pickle stream, F32, with an
                   int64 position_ids buffer and the decoder bias under
                   cls.predictions.decoder.bias sharing cls.predictions.bias
  legacy-f16       f16-bertmodel, legacy stream, F16
  zip-bf16         bf16-mlm-gamma, zip, BF16, LayerNorm gamma/beta names
  zip-f16-deflated f16-bertmodel, zip, F16, the archive rewritten with every
                   entry deflated (torch writes them stored)
  sharded          sharded-512: pytorch_model-00001-of-00002.bin (zip) +
                   pytorch_model-00002-of-00002.bin (legacy) and
                   pytorch_model.bin.index.json

Reruns write equal tensors but not equal bytes: the legacy format names
storages by their memory addresses and zipfile stamps the time.
"""
import collections
import json
import os
import shutil
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "fixtures", "models")
OUT = os.path.join(ROOT, "tests", "fixtures", "torch")


def twin(name):
    """The twin's tensors in file order (every shard of a sharded twin)."""
    d = os.path.join(MODELS, name)
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = collections.OrderedDict()
    for f in files:
        out.update(st_io.load(os.path.join(d, f)))
    return out


def start(fixture, name):
    d = os.path.join(OUT, fixture)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copy(os.path.join(MODELS, name, "config.json"), d)
    with open(os.path.join(d, "TWIN"), "w") as f:
        f.write("tests/fixtures/models/%s\n" % name)
    return d


def save(sd, path, legacy):
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)


def fused_views(sd, prefix):
    """Replace query/key/value weights by views of one fused storage."""
    names = [prefix + "attention.self.%s.weight" % k for k in ("query", "key", "value")]
    fused = torch.cat([sd[n] for n in names], 0).contiguous()
    C = sd[names[0]].shape[0]
    for i, n in enumerate(names):
        sd[n] = fused[i * C:(i + 1) * C]  # storage_offset i * C * C
        assert sd[n].storage_offset() == i * C * C


def zip_f32_shared():
    sd = twin("tiny-pretraining")
    sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]  # shared storage
    fused_views(sd, "bert.encoder.layer.0.")
    save(sd, os.path.join(start("zip-f32-shared", "tiny-pretraining"), "pytorch_model.bin"), legacy=False)


def legacy_f32():
    sd = twin("tiny-pretraining")
    sd["bert.embeddings.position_ids"] = torch.arange(64, dtype=torch.int64).unsqueeze(0)
    sd["cls.predictions.decoder.bias"] = sd["cls.predictions.bias"]
    fused_views(sd, "bert.encoder.layer.0.")
    save(sd, os.path.join(start("legacy-f32", "tiny-pretraining"), "pytorch_model.bin"), legacy=True)


def legacy_f16():
    sd = twin("f16-bertmodel")
    assert all(t.dtype == torch.float16 for t in sd.values())
    save(sd, os.path.join(start("legacy-f16", "f16-bertmodel"), "pytorch_model.bin"), legacy=True)


def zip_bf16():
    sd = twin("bf16-mlm-gamma")
    assert all(t.dtype == torch.bfloat16 for t in sd.values())
    save(sd, os.path.join(start("zip-bf16", "bf16-mlm-gamma"), "pytorch_model.bin"), legacy=False)


def zip_f16_deflated():
    sd = twin("f16-bertmodel")
    d = start("zip-f16-deflated", "f16-bertmodel")
    path = os.path.join(d, "pytorch_model.bin")
    save(sd, path + ".stored", legacy=False)
    with zipfile.ZipFile(path + ".stored") as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    os.remove(path + ".stored")


def sharded():
    sd = twin("sharded-512")
    d = start("sharded", "sharded-512")
    names = list(sd.keys())
    half = len(names) // 2
    shards = [("pytorch_model-00001-of-00002.bin", names[:half], False),
              ("pytorch_model-00002-of-00002.bin", names[half:], True)]
    weight_map = {}
    for fname, keys, legacy in shards:
        save(collections.OrderedDict((k, sd[k]) for k in keys), os.path.join(d, fname), legacy)
        weight_map.update({k: fname for k in keys})
    total = sum(t.numel() * t.element_size() for t in sd.values())
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")


def fuzz_seeds():
    """Small inputs for fuzz/torch.c, fuzz/pickle.c and fuzz/zip.c."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sd = collections.OrderedDict([("a.weight", base), ("a.bias", base[1]),  # shared storage, offset 4
                                  ("h", torch.ones(3, dtype=torch.float16)),
                                  ("b", torch.zeros(2, 2, dtype=torch.bfloat16)),
                                  ("ids", torch.arange(5).unsqueeze(0))])
    dirs = {t: os.path.join(ROOT, "fuzz", "corpus", t) for t in ("torch", "pickle", "zip")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    zpath, lpath = os.path.join(dirs["torch"], "tiny_zip"), os.path.join(dirs["torch"], "tiny_legacy")
    save(sd, zpath, legacy=False)
    save(sd, lpath, legacy=True)
    shutil.copy(zpath, os.path.join(dirs["zip"], "tiny_zip"))
    with zipfile.ZipFile(zpath) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        with open(os.path.join(dirs["pickle"], "state_dict"), "wb") as f:
            f.write(z.read(pkl))
        with zipfile.ZipFile(os.path.join(dirs["zip"], "deflated"), "w", zipfile.ZIP_DEFLATED) as out:
            for n in z.namelist():
                out.writestr(n, z.read(n))
    shutil.copy(os.path.join(dirs["zip"], "deflated"), os.path.join(dirs["torch"], "tiny_deflated"))


def main():
    torch.manual_seed(0)
    for make in (zip_f32_shared, legacy_f32, legacy_f16, zip_bf16, zip_f16_deflated, sharded, fuzz_seeds):
        make()
    print("torch %s wrote %s" % (torch.__version__, OUT))


if __name__ == "__main__":
    main()
