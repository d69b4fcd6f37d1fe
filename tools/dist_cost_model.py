#!/usr/bin/env python3
"""dist_cost_model.py — data-parallel BERT pre-training on a cluster, on paper.

Ring allreduce (what MPI_Allreduce does for large messages): each rank sends
and receives 2 (N - 1) / N x S bytes per step, S = the gradient bytes (4 per
parameter in f32, 2 in bf16), so the time is that over the link's bandwidth
(plus 2 (N - 1) latencies, negligible for buckets of megabytes). Compute per
step from FLOPs: a training step is ~3 x the forward; the forward per token
and layer is 2 x (4 C^2 + 2 C I) for the dense products plus 4 T C for the
attention products, plus the MLM head on the masked tokens, 2 C^2 + 2 C V
each. The rate per core is the one measured on this machine (bench/dist.sh:
bench_dist's 1-rank step on the bert-base shape, 2 layers, FLOPs / time).

  tools/dist_cost_model.py --gflops-per-core 80 [--nodes 16] [--cores 32]
                           [--batch 32] [--seq 128] [--efficiency 0.85]
"""
import argparse

MODELS = {  # hidden, intermediate, layers, vocab, positions
    "bert-base": (768, 3072, 12, 30522, 512),
    "bert-large": (1024, 4096, 24, 30522, 512),
}
LINKS = {"10 GbE": 10e9 / 8, "100 Gb/s": 100e9 / 8}


def params(C, I, L, V, P):
    """(all parameters, those of the encoder layers)"""
    emb = V * C + P * C + 2 * C + 2 * C
    layer = 4 * C * C + 4 * C + 2 * C * I + I + C + 4 * C
    heads = C * C + C + C * C + C + 2 * C + V + 2 * C + 2  # pooler, MLM transform + LN + bias, NSP
    return emb + L * layer + heads, L * layer


def step_flops(C, I, L, V, T, seqs, mask=0.15):
    tokens = seqs * T
    per_token_layer = 2 * (4 * C * C + 2 * C * I) + 4 * T * C
    masked = tokens * mask
    forward = tokens * L * per_token_layer + masked * (2 * C * C + 2 * C * V)
    return 3 * forward


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--gflops-per-core", type=float, required=True, help="measured f32 training rate of one core")
    a.add_argument("--nodes", type=int, default=16)
    a.add_argument("--cores", type=int, default=32, help="cores per node (one rank per node, threads = cores)")
    a.add_argument("--batch", type=int, default=32, help="sequences per node and step")
    a.add_argument("--seq", type=int, default=128)
    a.add_argument("--efficiency", type=float, default=0.85, help="share of cores x rate a node's threads reach")
    o = a.parse_args()
    N = o.nodes
    print(f"{N} nodes x {o.cores} cores at {o.gflops_per_core:.0f} GFLOP/s per core (x {o.efficiency} for threads), "
          f"{o.batch} x {o.seq} tokens per node and step")
    print("| model | params | allreduce per step (f32 / bf16) | compute per step | link | allreduce f32 | allreduce bf16 "
          "| efficiency f32: after backward / overlapped | bf16: after backward / overlapped |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (C, I, L, V, P) in MODELS.items():
        n, n_layers = params(C, I, L, V, P)
        compute = step_flops(C, I, L, V, o.seq, o.batch) / (o.gflops_per_core * 1e9 * o.cores * o.efficiency)
        # bert.c sends each encoder layer's gradients as backward finishes
        # it (hidden behind the rest of backward, ~2/3 of the step); the
        # embeddings and heads (the tied word embeddings are final last)
        # travel after backward, exposed.
        backward = compute * 2 / 3
        for link, bw in LINKS.items():
            row = [name, f"{n / 1e6:.0f} M", f"{4 * n / 1e6:.0f} / {2 * n / 1e6:.0f} MB", f"{compute:.2f} s", link]
            effs = []
            for b in (4, 2):
                ring = 2 * (N - 1) / N * b / bw
                t, t_layers = ring * n, ring * n_layers
                exposed = (t - t_layers) + max(0.0, t_layers - backward)
                row.append(f"{t:.3f} s")
                effs.append(f"{compute / (compute + t):.2f} / {compute / (compute + exposed):.2f}")
            print("| " + " | ".join(row + effs) + " |")


if __name__ == "__main__":
    main()
