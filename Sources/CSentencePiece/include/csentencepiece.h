/* extern "C" shim over sentencepiece's C++ SentencePieceProcessor.
 * Every function catches C++ exceptions at the boundary; on failure it returns NULL / a negative
 * value and leaves a message retrievable with csp_last_error() (thread-local). */
#ifndef CSENTENCEPIECE_H
#define CSENTENCEPIECE_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct csp_processor csp_processor;

/* Loads a serialized ModelProto (the bytes of spiece.model). NULL on error. */
csp_processor *csp_load_from_bytes(const void *bytes, size_t byte_count);
void csp_free(csp_processor *processor);

/* Encodes UTF-8 text to ids. Writes at most `capacity` ids to `ids` and the full count to
 * `*count` (call again with a larger buffer when *count > capacity). Returns 0, or -1 on error. */
int csp_encode(csp_processor *processor, const char *text, size_t text_byte_count,
               int32_t *ids, size_t capacity, size_t *count);

/* Piece string of an id, copied (NUL-terminated) into `buffer`; returns its length, -1 on error. */
int csp_id_to_piece(csp_processor *processor, int32_t id, char *buffer, size_t capacity);
int32_t csp_piece_to_id(csp_processor *processor, const char *piece);
int32_t csp_vocab_size(csp_processor *processor);
int32_t csp_eos_id(csp_processor *processor);
int32_t csp_pad_id(csp_processor *processor);
int32_t csp_unk_id(csp_processor *processor);

/* Message of the last failure on this thread ("" when none). */
const char *csp_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
