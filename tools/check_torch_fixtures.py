#!/usr/bin/env python3
"""Check the torch fixtures with transformers (run through tools/pyenv.sh).

    python tools/check_torch_fixtures.py FIXTURE_DIR TWIN_DIR CONVERTED_DIR

Loads the three directories with the class named by config.json's
architectures through transformers' from_pretrained (FIXTURE_DIR from its
pytorch_model.bin or pytorch_model.bin.index.json, TWIN_DIR and
CONVERTED_DIR, the output of `bert convert FIXTURE_DIR`, from safetensors)
and requires the same state dict from all three: the same keys and
bit-identical float32 tensors. Prints one line; exits 1 on a difference.
"""
import json
import os
import sys

import torch
import transformers


def load(path, **kw):
    arch = json.load(open(os.path.join(path, "config.json")))["architectures"][0]
    model = getattr(transformers, arch).from_pretrained(path, torch_dtype=torch.float32, **kw)
    return {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}


def same(a, b):
    if a.keys() != b.keys():
        return "keys differ: %s" % sorted(set(a) ^ set(b))[:4]
    for k in a:
        if a[k].dtype != b[k].dtype or a[k].shape != b[k].shape or not torch.equal(a[k], b[k]):
            return "tensor %s differs" % k
    return None


def main():
    fixture, twin, converted = sys.argv[1:4]
    ref = load(twin, use_safetensors=True)
    got = load(fixture, use_safetensors=False)
    conv = load(converted, use_safetensors=True)
    for what, sd in (("pytorch_model.bin", got), ("bert convert output", conv)):
        diff = same(ref, sd)
        if diff:
            print("%s: %s vs twin: %s" % (fixture, what, diff))
            sys.exit(1)
    print("%s: %d tensors equal (bin, twin, converted)" % (fixture, len(ref)))


if __name__ == "__main__":
    main()
