#include "cquantkernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* Every product and sum below must be rounded on its own, as in the reference: no contraction. */
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

int cqk_available(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") ? 1 : 0;
    }
    return cached;
}

#define TARGET __attribute__((target("avx2,f16c")))

TARGET static inline __m256 load8_f32(const float *p) { return _mm256_loadu_ps(p); }
TARGET static inline __m256 load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* |x| as int32 bit patterns: ordered like the magnitudes; >= 0x7f800000 is inf/NaN. */
TARGET static inline __m256i magnitude_bits(__m256 x) {
    return _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
}

/* roundf of |v| < 2^31, exactly: truncate, then step away from zero where the (exact) remainder
 * is at least one half. _mm256_round_ps would round ties to even. */
TARGET static inline __m256i round_half_away(__m256 v) {
    __m256i t = _mm256_cvttps_epi32(v);
    __m256 rest = _mm256_sub_ps(v, _mm256_cvtepi32_ps(t));
    t = _mm256_sub_epi32(t, _mm256_castps_si256(_mm256_cmp_ps(rest, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
    return _mm256_add_epi32(t, _mm256_castps_si256(_mm256_cmp_ps(rest, _mm256_set1_ps(-0.5f), _CMP_LE_OQ)));
}

/* Four vectors of int32 in [-127, 127] to 32 int8 in order. */
TARGET static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Lane k of the result is the largest lane of m[k]. */
TARGET static inline __m256i max_of_each(const __m256i m[8]) {
    __m256i t01 = _mm256_max_epi32(_mm256_unpacklo_epi32(m[0], m[1]), _mm256_unpackhi_epi32(m[0], m[1]));
    __m256i t23 = _mm256_max_epi32(_mm256_unpacklo_epi32(m[2], m[3]), _mm256_unpackhi_epi32(m[2], m[3]));
    __m256i t45 = _mm256_max_epi32(_mm256_unpacklo_epi32(m[4], m[5]), _mm256_unpackhi_epi32(m[4], m[5]));
    __m256i t67 = _mm256_max_epi32(_mm256_unpacklo_epi32(m[6], m[7]), _mm256_unpackhi_epi32(m[6], m[7]));
    __m256i u = _mm256_max_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
    __m256i v = _mm256_max_epi32(_mm256_unpacklo_epi64(t45, t67), _mm256_unpackhi_epi64(t45, t67));
    return _mm256_max_epi32(_mm256_permute2x128_si256(u, v, 0x20), _mm256_permute2x128_si256(u, v, 0x31));
}

/* 1/d, 0 where d is 0 (1/0 = inf) or 1/d overflows (d denormal), as ReferenceQuantizer.inverse. */
TARGET static inline __m256 inverses(__m256 d) {
    __m256 id = _mm256_div_ps(_mm256_set1_ps(1.0f), d);
    return _mm256_and_ps(id, _mm256_cmp_ps(id, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
}

/* Groups of up to 8 blocks: absmax of each, one vector division for the scales, F16C for the fp16
 * scales. `n` < 8 only for the last group (missing blocks get absmax 0 and are not written). */
#define Q8_0_GROUP(LOAD, SRC_T)                                                                        \
    TARGET static size_t q8_0_group_##SRC_T(const SRC_T *src, size_t n, uint8_t *dst, int *overflow) { \
        __m256 x[8][4];                                                                                 \
        __m256i m[8];                                                                                   \
        for (size_t k = 0; k < 8; ++k) {                                                                \
            if (k < n) {                                                                                \
                for (int j = 0; j < 4; ++j) x[k][j] = LOAD(src + 32 * k + 8 * j);                      \
                m[k] = _mm256_max_epi32(_mm256_max_epi32(magnitude_bits(x[k][0]), magnitude_bits(x[k][1])), \
                                        _mm256_max_epi32(magnitude_bits(x[k][2]), magnitude_bits(x[k][3]))); \
            } else {                                                                                    \
                m[k] = _mm256_setzero_si256();                                                          \
            }                                                                                           \
        }                                                                                               \
        __m256i amax = max_of_each(m);                                                                  \
        int bad = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(amax, _mm256_set1_epi32(0x7f7fffff)))); \
        __m256 d = _mm256_div_ps(_mm256_castsi256_ps(amax), _mm256_set1_ps(127.0f));                  \
        float ids[8];                                                                                   \
        _mm256_storeu_ps(ids, inverses(d));                                                             \
        uint16_t halves[8];                                                                             \
        __m128i h = _mm256_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);                  \
        _mm_storeu_si128((__m128i *)halves, h);                                                         \
        __m128i inf = _mm_set1_epi16(0x7c00);                                                           \
        *overflow = _mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, inf), inf));                     \
        for (size_t k = 0; k < n; ++k) {                                                                \
            uint8_t *b = dst + 34 * k;                                                                  \
            memcpy(b, &halves[k], 2);                                                                   \
            __m256 id = _mm256_set1_ps(ids[k]);                                                         \
            __m256i q = pack32(round_half_away(_mm256_mul_ps(x[k][0], id)), round_half_away(_mm256_mul_ps(x[k][1], id)), \
                               round_half_away(_mm256_mul_ps(x[k][2], id)), round_half_away(_mm256_mul_ps(x[k][3], id))); \
            _mm256_storeu_si256((__m256i *)(b + 2), q);                                                 \
        }                                                                                               \
        return bad ? (size_t)__builtin_ctz((unsigned)bad) : n;                                          \
    }

Q8_0_GROUP(load8_f32, float)
Q8_0_GROUP(load8_f16, uint16_t)

#define Q8_0_ENTRY(NAME, SRC_T)                                                                    \
    size_t NAME(const SRC_T *src, size_t blocks, uint8_t *dst, size_t *first_overflow) {          \
        size_t bad = blocks;                                                                        \
        *first_overflow = blocks;                                                                   \
        for (size_t b = 0; b < blocks; b += 8) {                                                    \
            size_t n = blocks - b < 8 ? blocks - b : 8;                                             \
            int overflow = 0;                                                                       \
            size_t k = q8_0_group_##SRC_T(src + 32 * b, n, dst + 34 * b, &overflow);                \
            if (k < n && bad == blocks) bad = b + k;                                                \
            overflow &= (1 << (2 * n)) - 1; /* two mask bits per fp16 lane */                       \
            if (overflow && *first_overflow == blocks) *first_overflow = b + (size_t)__builtin_ctz((unsigned)overflow) / 2; \
        }                                                                                           \
        return bad;                                                                                 \
    }

Q8_0_ENTRY(cqk_q8_0_f32, float)
Q8_0_ENTRY(cqk_q8_0_f16, uint16_t)

/* Widens the (< 8 element) tail of an fp16 row through a zero-padded vector. */
TARGET static inline __m256 load_tail_f16(const uint16_t *p, size_t n) {
    uint16_t buf[8] = {0};
    memcpy(buf, p, 2 * n);
    return load8_f16(buf);
}
TARGET static inline __m256 load_tail_f32(const float *p, size_t n) {
    float buf[8] = {0};
    memcpy(buf, p, 4 * n);
    return load8_f32(buf);
}

#define INT8_ENTRY(NAME, LOAD, TAIL, SRC_T)                                                        \
    TARGET int NAME(const SRC_T *src, size_t count, int8_t *dst, float *scale) {                   \
        __m256i m = _mm256_setzero_si256();                                                         \
        size_t i = 0;                                                                               \
        for (; i + 8 <= count; i += 8) m = _mm256_max_epi32(m, magnitude_bits(LOAD(src + i)));      \
        if (i < count) m = _mm256_max_epi32(m, magnitude_bits(TAIL(src + i, count - i)));           \
        __m128i m4 = _mm_max_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));      \
        m4 = _mm_max_epi32(m4, _mm_shuffle_epi32(m4, 0x4e));                                        \
        m4 = _mm_max_epi32(m4, _mm_shuffle_epi32(m4, 0xb1));                                        \
        if (_mm_cvtsi128_si32(m4) > 0x7f7fffff) return 0;                                           \
        __m256 d = _mm256_div_ps(_mm256_castsi256_ps(_mm256_broadcastd_epi32(m4)), _mm256_set1_ps(127.0f)); \
        __m256 id = inverses(d);                                                                    \
        *scale = _mm256_cvtss_f32(d);                                                               \
        __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);                          \
        for (i = 0; i + 32 <= count; i += 32) {                                                     \
            __m256i q[4];                                                                           \
            for (int j = 0; j < 4; ++j)                                                             \
                q[j] = _mm256_min_epi32(hi, _mm256_max_epi32(lo, round_half_away(_mm256_mul_ps(LOAD(src + i + 8 * j), id)))); \
            _mm256_storeu_si256((__m256i *)(dst + i), pack32(q[0], q[1], q[2], q[3]));              \
        }                                                                                           \
        for (; i < count; i += 8) {                                                                 \
            size_t n = count - i < 8 ? count - i : 8;                                               \
            __m256i q = _mm256_min_epi32(hi, _mm256_max_epi32(lo, round_half_away(_mm256_mul_ps(TAIL(src + i, n), id)))); \
            int32_t lanes[8];                                                                       \
            _mm256_storeu_si256((__m256i *)lanes, q);                                               \
            for (size_t j = 0; j < n; ++j) dst[i + j] = (int8_t)lanes[j];                           \
        }                                                                                           \
        return 1;                                                                                   \
    }

INT8_ENTRY(cqk_int8_row_f32, load8_f32, load_tail_f32, float)
INT8_ENTRY(cqk_int8_row_f16, load8_f16, load_tail_f16, uint16_t)
