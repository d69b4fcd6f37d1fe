/* unicode.h — UTF-8 decoding and the character classes BERT's tokenizer
 * uses, as Hugging Face `tokenizers` (Rust) defines them. General
 * categories, canonical decomposition and case mapping come from utf8proc. */
#ifndef BERT_TOKENIZER_UNICODE_H
#define BERT_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Decode UTF-8 strictly (no overlong forms, surrogates or values above
 * U+10FFFF). Writes at most len code points to cps and returns their
 * number, or -1 with *bad_byte set to the offset of the first invalid
 * sequence. */
long bert_utf8_decode(const char *s, size_t len, uint32_t *cps, size_t *bad_byte);

/* Append the UTF-8 of cp to buf; returns the number of bytes (1..4). */
int bert_utf8_encode(uint32_t cp, char *buf);

/* BertNormalizer / BertPreTokenizer character classes. */
int bert_is_whitespace(uint32_t cp);   /* Rust char::is_whitespace (White_Space) or \t \n \r */
int bert_is_control(uint32_t cp);      /* "other" (Cc Cf Cn Co Cs) except \t \n \r           */
int bert_is_chinese_char(uint32_t cp); /* the CJK blocks BERT puts spaces around            */
int bert_is_punctuation(uint32_t cp);  /* ASCII punctuation or general category P*         */

/* Canonical decomposition (NFD) of cp with nonspacing marks (Mn) removed,
 * written to out (room for 32); returns the count (may be 0). */
int bert_nfd_strip_marks(uint32_t cp, uint32_t *out);

/* Canonical decomposition (NFD) of cp into out (room for 32); returns the count. */
int bert_nfd_decompose(uint32_t cp, uint32_t *out);

/* Full lowercase mapping of one character (Rust char::to_lowercase):
 * writes 1 or 2 code points to out and returns the count. */
int bert_lowercase(uint32_t cp, uint32_t *out);

#endif
