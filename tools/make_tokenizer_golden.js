// make_tokenizer_golden.js — run Hugging Face's own tokenizer (the Rust
// `tokenizers` library, npm package @anush008/tokenizers) on the golden
// corpus and store what it returns: tests/fixtures/tokenizer/golden.jsonl.gz.
//
//   python3 tools/make_tokenizer_corpus.py          # build/tokenizer_corpus.jsonl
//   (cd tools/.oracle && npm install @anush008/tokenizers)
//   node tools/make_tokenizer_golden.js
//
// Each output line is one case:
//   {"tok": "uncased"|"cased", "text": ..., "text_pair": ... (optional),
//    "params": {max_length, truncation, stride, side, overflow, padding, multiple, pad_side, special},
//    "expect": [ {ids, types, offsets (flat start,end,...), words (-1 = None), special, mask}, ... ]}
// or, for a batch: {"tok", "batch": [{text, text_pair}], "params", "expect": [[...], ...]},
// or, for decoding: {"tok", "decode": ids, "skip_special": bool, "expect_text": "..."},
// or, when Hugging Face refuses the input: {"tok", "text", ..., "params", "error": "message"}.
// "uncased" is bert-base-uncased's tokenizer.json; "cased" the same with lowercase off.
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const tk = require(path.join(__dirname, '.oracle', 'node_modules', '@anush008', 'tokenizers'));

const ROOT = path.join(__dirname, '..');
const corpus = fs.readFileSync(path.join(ROOT, 'build', 'tokenizer_corpus.jsonl'), 'utf8')
  .split('\n').filter((l) => l).map((l) => JSON.parse(l));

function load(file) {
  const t = tk.Tokenizer.fromFile(file);
  t.disableTruncation();
  t.disablePadding();
  return t;
}
const tokenizers = {
  uncased: () => load(path.join(ROOT, '..', 'shared', 'models', 'bert-base-uncased-tokenizer', 'tokenizer.json')),
  cased: () => load(path.join(ROOT, 'tests', 'fixtures', 'tokenizer', 'cased', 'tokenizer.json')),
};

function pack(e) {
  return {
    ids: e.getIds(), types: e.getTypeIds(), offsets: [].concat(...e.getOffsets()),
    words: e.getWordIds().map((w) => (w === null || w === undefined ? -1 : w)),
    special: e.getSpecialTokensMask(), mask: e.getAttentionMask(),
  };
}

function configure(t, p) {
  t.disableTruncation();
  t.disablePadding();
  if (p.max_length && p.truncation !== 'none') {
    const strategy = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' }[p.truncation];
    t.setTruncation(p.max_length, { strategy, stride: p.stride || 0, direction: p.side === 'left' ? 'left' : 'right' });
  }
  if (p.padding) {
    const o = { direction: p.pad_side === 'left' ? 'left' : 'right', padId: 0, padToken: '[PAD]' };
    if (p.padding === 'max_length') o.maxLength = p.max_length;
    if (p.multiple) o.padToMultipleOf = p.multiple;
    t.setPadding(o);
  }
}

async function run(t, c, p) {
  configure(t, p);
  try {
    const e = await t.encode(c.text, c.text_pair === undefined ? null : c.text_pair, { addSpecialTokens: p.special !== false });
    const windows = [pack(e)];
    if (p.overflow) for (const o of e.getOverflowing()) windows.push(pack(o));
    return { expect: windows };
  } catch (err) {
    return { error: String(err.message || err) };
  }
}

(async () => {
  const out = [];
  const uncased = tokenizers.uncased(), cased = tokenizers.cased();
  const emit = (o) => out.push(JSON.stringify(o));
  for (const c of corpus) {
    const isPair = c.text_pair !== undefined;
    const base = { text: c.text };
    if (isPair) base.text_pair = c.text_pair;
    const plain = {};
    emit({ tok: 'uncased', ...base, params: plain, ...(await run(uncased, c, plain)) });
    emit({ tok: 'cased', ...base, params: plain, ...(await run(cased, c, plain)) });
    const trunc = [];
    if (isPair) {
      trunc.push({ max_length: 64, truncation: 'only_second', stride: 16, overflow: true });
      trunc.push({ max_length: 48, truncation: 'longest_first' });
      trunc.push({ max_length: 40, truncation: 'longest_first', stride: 4, overflow: true });
      trunc.push({ max_length: 32, truncation: 'only_first' });
    } else {
      trunc.push({ max_length: 32, truncation: 'longest_first', stride: 8, overflow: true });
      trunc.push({ max_length: 20, truncation: 'longest_first', stride: 5, overflow: true, side: 'left' });
      trunc.push({ max_length: 16, truncation: 'longest_first', special: false });
    }
    for (const p of trunc) emit({ tok: 'uncased', ...base, params: p, ...(await run(uncased, c, p)) });
  }
  // Padding: batches of 5 single texts (this binding's encodeBatch takes no pairs).
  const singles = corpus.filter((c) => c.text_pair === undefined);
  const pads = [
    { padding: 'longest' }, { padding: 'longest', multiple: 8, pad_side: 'left' },
    { padding: 'max_length', max_length: 48, truncation: 'longest_first' },
  ];
  for (let i = 0, k = 0; i + 5 <= singles.length && k < 60; i += 37, k++) {
    const batch = singles.slice(i, i + 5);
    const p = pads[k % pads.length];
    configure(uncased, p);
    const encs = await uncased.encodeBatch(batch.map((c) => c.text));
    emit({ tok: 'uncased', batch, params: p, expect: encs.map((e) => [pack(e)]) });
  }
  // Decoding: ids of some encodings back to text.
  configure(uncased, {});
  for (let i = 0; i < corpus.length; i += 9) {
    const c = corpus[i];
    const e = await uncased.encode(c.text, c.text_pair === undefined ? null : c.text_pair);
    const ids = e.getIds();
    for (const skip of [true, false])
      emit({ tok: 'uncased', decode: ids, skip_special: skip, expect_text: await uncased.decode(ids, skip) });
  }
  const file = path.join(ROOT, 'tests', 'fixtures', 'tokenizer', 'golden.jsonl.gz');
  fs.writeFileSync(file, zlib.gzipSync(out.join('\n') + '\n', { level: 9 }));
  console.error(`${out.length} cases -> ${file}`);
})();
