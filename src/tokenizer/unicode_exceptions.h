/* unicode_exceptions.h — placeholder until tools/unicode_exceptions.js has
 * been run against Hugging Face's tokenizer (it regenerates this file). */
static const uint32_t bert_rust_unassigned[][2] = {{0x110000, 0x110000}};
static const uint32_t bert_rust_other_extra[][2] = {{0x110000, 0x110000}};
static const uint32_t bert_rust_not_punct[][2] = {{0x110000, 0x110000}};
static const uint32_t bert_rust_not_mn[][2] = {{0x110000, 0x110000}};
