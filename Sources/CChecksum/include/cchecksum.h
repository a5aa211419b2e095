/* Hardware path for the pack's per-tensor checksums: CRC32C with SSE4.2, checked once at run time
 * (no compiler flags needed). The portable definition lives in Swift (IFCore/Pack/CRC32C.swift);
 * tests compare this against it. (SHA-256 comes from libcrypto: IFCore/Pack/SHA256.swift.) */
#ifndef CCHECKSUM_H
#define CCHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/* 1 when the CPU has SSE4.2 (crc32 instruction). */
int ccs_has_crc32c(void);
/* CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF) of `count` bytes, continuing `crc`
 * (pass 0 to start). Only call when ccs_has_crc32c() is 1. */
uint32_t ccs_crc32c_hw(uint32_t crc, const void *data, size_t count);

#endif
