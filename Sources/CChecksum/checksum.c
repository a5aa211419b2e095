#include "cchecksum.h"

#include <immintrin.h>
#include <string.h>

int ccs_has_crc32c(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    return cached;
}

__attribute__((target("sse4.2")))
uint32_t ccs_crc32c_hw(uint32_t crc, const void *data, size_t count) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t c = (uint32_t)~crc;
    while (count > 0 && ((uintptr_t)p & 7u) != 0) { c = _mm_crc32_u8((uint32_t)c, *p++); count--; }
    /* Three independent streams hide the instruction's 3-cycle latency would need a combine step;
     * one stream already runs well above disk speed, so keep it simple. */
    while (count >= 32) {
        uint64_t v0, v1, v2, v3;
        memcpy(&v0, p, 8); memcpy(&v1, p + 8, 8); memcpy(&v2, p + 16, 8); memcpy(&v3, p + 24, 8);
        c = _mm_crc32_u64(c, v0); c = _mm_crc32_u64(c, v1);
        c = _mm_crc32_u64(c, v2); c = _mm_crc32_u64(c, v3);
        p += 32; count -= 32;
    }
    while (count >= 8) { uint64_t v; memcpy(&v, p, 8); c = _mm_crc32_u64(c, v); p += 8; count -= 8; }
    while (count > 0) { c = _mm_crc32_u8((uint32_t)c, *p++); count--; }
    return ~(uint32_t)c;
}

int ccs_has_sha256(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        unsigned int eax, ebx, ecx, edx;
        int sha = 0;
        /* CPUID leaf 7, sub-leaf 0: EBX bit 29 = SHA extensions. */
        __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(0));
        sha = (ebx >> 29) & 1u;
        cached = (sha && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3")) ? 1 : 0;
    }
    return cached;
}

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,sse4.1,ssse3")))
void ccs_sha256_blocks_hw(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);    /* DCBA (lanes a,b,c,d) */
    __m128i state1 = _mm_loadu_si128((const __m128i *)&state[4]); /* HGFE */
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                  /* CDAB */
    state1 = _mm_shuffle_epi32(state1, 0x1B);            /* EFGH */
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);    /* ABEF */
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);         /* CDGH */

    while (blocks-- > 0) {
        const __m128i abef = state0, cdgh = state1;
        __m128i w[4];
        for (int group = 0; group < 16; ++group) {
            __m128i m;
            if (group < 4) {
                m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * group)), byteswap);
            } else {
                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time. */
                __m128i w16 = w[group & 3], w12 = w[(group + 1) & 3], w8 = w[(group + 2) & 3], w4 = w[(group + 3) & 3];
                m = _mm_sha256msg1_epu32(w16, w12);
                m = _mm_add_epi32(m, _mm_alignr_epi8(w4, w8, 4));
                m = _mm_sha256msg2_epu32(m, w4);
            }
            w[group & 3] = m;
            __m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K256[4 * group]));
            state1 = _mm_sha256rnds2_epu32(state1, state0, k);
            k = _mm_shuffle_epi32(k, 0x0E);
            state0 = _mm_sha256rnds2_epu32(state0, state1, k);
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
        data += 64;
    }

    tmp = _mm_shuffle_epi32(state0, 0x1B);               /* FEBA */
    state1 = _mm_shuffle_epi32(state1, 0xB1);            /* DCHG */
    state0 = _mm_blend_epi16(tmp, state1, 0xF0);         /* DCBA */
    state1 = _mm_alignr_epi8(state1, tmp, 8);            /* HGFE */
    _mm_storeu_si128((__m128i *)&state[0], state0);
    _mm_storeu_si128((__m128i *)&state[4], state1);
}
