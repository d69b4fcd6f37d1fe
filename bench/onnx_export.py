#!/usr/bin/python3
"""Exports the bench model directory to ONNX for the ONNX Runtime peer of
bench/compare.sh: MODEL_DIR/model.onnx, inputs input_ids, token_type_ids,
attention_mask (int64 [batch, seq], both axes dynamic), output
last_hidden_state.

The graph is traced from tools/bert_reference.py (the same eager operations
as transformers' BertModel), with torch.onnx.export's TorchScript exporter
(opset 14) so that ONNX Runtime's transformer fusions (Attention,
SkipLayerNormalization, BiasGelu) can recognise the patterns.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import bert_reference  # noqa: E402


class Encoder(torch.nn.Module):
    def __init__(self, cfg, sd):
        super().__init__()
        self.cfg = cfg
        # Parameters, not plain tensors, so the exporter writes them as
        # initializers instead of folding them into every use.
        self.names = sorted(sd)
        self.params = torch.nn.ParameterList([torch.nn.Parameter(sd[n], requires_grad=False) for n in self.names])

    def forward(self, input_ids, token_type_ids, attention_mask):
        sd = dict(zip(self.names, self.params))
        return bert_reference.forward(self.cfg, sd, input_ids, token_type_ids, attention_mask)["last_hidden_state"]


def main():
    d = sys.argv[1]
    cfg, sd = bert_reference.load_model_dir(d)
    m = Encoder(cfg, sd).eval()
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "token_type_ids": {0: "batch", 1: "seq"},
           "attention_mask": {0: "batch", 1: "seq"}, "last_hidden_state": {0: "batch", 1: "seq"}}
    out = os.path.join(d, "model.onnx")
    tmp = out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(m, (ids, torch.zeros_like(ids), torch.ones_like(ids)), tmp,
                          input_names=["input_ids", "token_type_ids", "attention_mask"],
                          output_names=["last_hidden_state"], dynamic_axes=dyn, opset_version=14)
    os.replace(tmp, out)
    print(f"onnx_export: wrote {out}")


if __name__ == "__main__":
    main()
