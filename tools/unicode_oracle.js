// unicode_oracle.js — ask Hugging Face's tokenizer (Rust `tokenizers`, via
// the npm package @anush008/tokenizers) how it classifies every code point,
// for tools/unicode_diff to compare with bert.c's utf8proc-based classes.
//
//   node tools/unicode_oracle.js > build/unicode_oracle.txt
//
// Prints one line per code point whose behaviour is not the default:
//   <hex cp> <control 0/1> <whitespace 0/1> <punct 0/1> <strip-accents hex,...|-> <lowercase hex,...|-> <split-as-space 0/1>
// where strip-accents / lowercase give the code points the normalizer
// produces for that single character ('-' = unchanged).
const path = require('path');
const tk = require(path.join(__dirname, '.oracle', 'node_modules', '@anush008', 'tokenizers'));

const clean = tk.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const strip = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const lower = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true });
const pre = tk.bertPreTokenizer();

const hexes = (s) => Array.from(s).map((c) => c.codePointAt(0).toString(16)).join(',') || 'empty';
const out = [];
for (let cp = 0; cp <= 0x10ffff; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const ch = String.fromCodePoint(cp);
  const c = clean.normalizeString(ch);
  const control = c === '' ? 1 : 0;
  const ws = c === ' ' && cp !== 0x20 ? 1 : cp === 0x20 ? 1 : 0;
  // A punctuation character is isolated: "a" ch "b" gives three pieces.
  const pieces = pre.preTokenizeString('a' + ch + 'b');
  const punct = pieces.length === 3 ? 1 : 0;
  const prews = pieces.length === 2 ? 1 : 0;
  const s = strip.normalizeString(ch);
  const l = lower.normalizeString(ch);
  const sv = s === ch ? '-' : hexes(s);
  const lv = l === ch ? '-' : hexes(l);
  if (control || ws || punct || prews || sv !== '-' || lv !== '-')
    out.push(`${cp.toString(16)} ${control} ${ws} ${punct} ${sv} ${lv} ${prews}`);
  if (out.length >= 4096) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
