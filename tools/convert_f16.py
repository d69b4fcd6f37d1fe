#!/usr/bin/python3
"""Copy a model directory with its weights stored as F16 (half the size; bert.c widens F16 to F32
once at load, so outputs match the F32 model to F16 rounding). Used for the models bundled in
models/.

usage: tools/convert_f16.py SRC_DIR OUT_DIR
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(src):
        if f in ("model.safetensors", "config.json") or not os.path.isfile(os.path.join(src, f)):
            continue
        if f.endswith(".json") or f.endswith(".txt") or f.endswith(".md"):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    tensors = st_io.load(os.path.join(src, "model.safetensors"))
    st_io.save(os.path.join(out, "model.safetensors"),
               {k: (v.to(torch.float16) if v.dtype == torch.float32 else v) for k, v in tensors.items()},
               {"format": "pt"})
    cfg = json.load(open(os.path.join(src, "config.json")))
    cfg["torch_dtype"] = "float16"
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    print(f"{out}: {len(tensors)} tensors as F16")


if __name__ == "__main__":
    main()
