// hf_tokenizer.js — the peer of bench_tokenizer.c: Hugging Face `tokenizers`
// (Rust, npm @anush008/tokenizers) on the same lines, single thread
// (TOKENIZERS_PARALLELISM=false), the same way: median of REPS runs.
//   TOKENIZERS_PARALLELISM=false node bench/hf_tokenizer.js TOKENIZER_JSON TEXT_FILE [REPS]
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '..', 'tools', '.oracle', 'node_modules', '@anush008', 'tokenizers'));
(async () => {
  const [file, textFile, repsArg] = process.argv.slice(2);
  const reps = Number(repsArg || 5);
  const t = tk.Tokenizer.fromFile(file);
  t.disableTruncation();
  t.disablePadding();
  const lines = fs.readFileSync(textFile, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const bytes = lines.reduce((s, l) => s + Buffer.byteLength(l), 0);
  for (const mode of ['encodeBatch', 'encode']) {
    const times = [];
    let tokens = 0;
    for (let r = 0; r < reps; r++) {
      tokens = 0;
      const t0 = process.hrtime.bigint();
      if (mode === 'encodeBatch') {
        const encs = await t.encodeBatch(lines);
        for (const e of encs) tokens += e.getLength();
      } else {
        for (const l of lines) tokens += (await t.encode(l, null)).getLength();
      }
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    times.sort((a, b) => a - b);
    const med = times[Math.floor(reps / 2)];
    console.log(`hf-${mode.padEnd(11)} lines ${lines.length}  bytes ${bytes}  tokens ${tokens}  median ${med.toFixed(3)} s  ` +
      `${(bytes / med / 1e6).toFixed(2)} MB/s  ${(tokens / med).toFixed(0)} tokens/s`);
  }
})();
