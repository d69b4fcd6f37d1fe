#!/usr/bin/env node
// The ONNX Runtime peer for bench/compare.sh: MODEL_DIR/model.onnx (made by
// bench/onnx_export.py) run by onnxruntime-node's native CPU runtime with
// all graph optimizations on and the given intra-op thread count; the same
// batches as bench_forward and torch_forward.py, timed the same way (one
// warm-up, median of --reps).
//
//   node bench/ort_forward.js MODEL_DIR [--threads N] [--seq 128] [--reps 10] [--batches 1,8] [--check]
//
// --check prints the first hidden values of batch 1 for a parity spot check.
'use strict';
const path = require('path');
const os = require('os');
const ort = require(path.join(__dirname, '.peers', 'ort', 'node_modules', 'onnxruntime-node'));

function arg(name, dflt) {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main() {
    const dir = process.argv[2];
    const threads = arg('--threads', os.cpus().length);
    const seq = arg('--seq', 128);
    const reps = arg('--reps', 10);
    const layers = require(path.resolve(dir, 'config.json')).num_hidden_layers;
    const sess = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
        graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
        executionMode: 'sequential',
    });
    console.log(`onnxruntime-node ${require(path.join(__dirname, '.peers', 'ort', 'node_modules', 'onnxruntime-node', 'package.json')).version} forward, ${layers} layer(s), seq ${seq}, threads ${threads}, ${reps} reps`);
    console.log('runtime  layers    threads    batch    median ms       min ms       tokens/s');
    const bi = process.argv.indexOf('--batches');
    const batches = bi > 0 ? process.argv[bi + 1].split(',').map(Number) : [1, 8];
    // --ragged FILE: one line of token ids per sequence, one batch padded to the longest (attention mask)
    const ri = process.argv.indexOf('--ragged');
    const rows = ri > 0 ? require('fs').readFileSync(process.argv[ri + 1], 'utf8').split('\n').filter(l => l.trim())
        .map(l => l.trim().split(/\s+/).map(Number)) : null;
    for (const B0 of rows ? [rows.length] : batches) {
        const B = B0, T = rows ? Math.max(...rows.map(r => r.length)) : seq, n = B * T;
        const ids = new BigInt64Array(n), types = new BigInt64Array(n), mask = new BigInt64Array(n);
        let tokens = n;
        if (rows) {
            tokens = 0;
            rows.forEach((r, b) => r.forEach((v, t) => { ids[b * T + t] = BigInt(v); mask[b * T + t] = 1n; tokens++; }));
        } else {
            for (let i = 0; i < n; i++) { ids[i] = BigInt(1000 + (i * 7919) % 29000); mask[i] = 1n; }
        }
        const feeds = {
            input_ids: new ort.Tensor('int64', ids, [B, T]),
            token_type_ids: new ort.Tensor('int64', types, [B, T]),
            attention_mask: new ort.Tensor('int64', mask, [B, T]),
        };
        const first = await sess.run(feeds);
        if (process.argv.includes('--check') && B === 1)
            console.log('check', Array.from(first.last_hidden_state.data.slice(0, 4)).map(v => v.toFixed(5)).join(' '));
        const ts = [];
        for (let r = 0; r < reps; r++) {
            const t0 = process.hrtime.bigint();
            await sess.run(feeds);
            ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        ts.sort((a, b) => a - b);
        const med = reps % 2 ? ts[(reps - 1) / 2] : (ts[reps / 2 - 1] + ts[reps / 2]) / 2;
        console.log(`${'onnxrt'.padEnd(8)} ${String(layers).padEnd(8)} ${String(threads).padStart(8)} ${(rows ? 'R' + B : String(B)).padStart(8)} ` +
            `${med.toFixed(2).padStart(12)} ${ts[0].toFixed(2).padStart(12)} ${(tokens / (med / 1e3)).toFixed(0).padStart(14)}`);
    }
}
main().catch(e => { console.error('ort_forward: ' + e.message); process.exit(1); });
