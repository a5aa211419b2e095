/* Hardware paths for the pack's checksums: CRC32C with SSE4.2 and SHA-256 compression with the
 * SHA extensions. Checked once at run time (no compiler flags needed). The portable definitions of
 * both live in Swift (IFCore/Pack/CRC32C.swift, SHA256.swift); tests compare these against them. */
#ifndef CCHECKSUM_H
#define CCHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/* 1 when the CPU has SSE4.2 (crc32 instruction). */
int ccs_has_crc32c(void);
/* CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF) of `count` bytes, continuing `crc`
 * (pass 0 to start). Only call when ccs_has_crc32c() is 1. */
uint32_t ccs_crc32c_hw(uint32_t crc, const void *data, size_t count);

/* 1 when the CPU has the SHA extensions and SSE4.1. */
int ccs_has_sha256(void);
/* SHA-256 compression of `blocks` 64-byte blocks into `state` (a..h, host order). Only call when
 * ccs_has_sha256() is 1. */
void ccs_sha256_blocks_hw(uint32_t state[8], const uint8_t *data, size_t blocks);
#endif
