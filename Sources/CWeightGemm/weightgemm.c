#include "cweightgemm.h"

#include <immintrin.h>
#include <string.h>

/* Blocking. Loop order: k chunk -> m chunk -> block of NR weight rows -> block of MR rows of X.
 * - A k chunk is sized so the packed X chunk (kc x up to MC rows) stays in L2 (X_CHUNK_BYTES)
 *   while every weight block of that chunk streams past it; KC_MAX bounds the widened weight
 *   block (NR x kc floats).
 * - Partial sums live in a Yᵀ-shaped buffer [n][m padded] between k chunks (few chunks: at
 *   m = 154, k = 4096 there are 4); after the last chunk each tile is transposed into Y at once.
 * - The next weight block and its partial sums are prefetched while the current one computes,
 *   and X a few steps ahead inside the micro-kernel.
 * Measured on the 2-core Cascade Lake VM (m 154, k 4096, n 10240): 256-column chunks (16 passes
 * over the partial buffer) ran at ~95 GFLOPS on 2 threads, these chunks at ~140. */
#define KC_MAX 1024
#define WB_STRIDE (KC_MAX + 16) /* row stride of the widened block: rows 1 KiB apart alias in L1 */
#define X_CHUNK_BYTES (512u * 1024u)
#define MC_BLOCKS 8 /* MR-row blocks per m chunk: 256 rows (AVX-512) or 128 (AVX2) */
#define NR_MAX 12

#define TARGET512 __attribute__((target("avx512f,f16c,fma")))
#define TARGET2 __attribute__((target("avx2,f16c,fma")))

int cwg_available(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        int f16_fma = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
        if (f16_fma && __builtin_cpu_supports("avx512f")) cached = CWG_AVX512;
        else if (f16_fma && __builtin_cpu_supports("avx2")) cached = CWG_AVX2;
        else cached = CWG_NONE;
    }
    return cached;
}

/* Rows of X per micro-kernel call (MR) and weight rows per call (NR). */
static size_t mr_of(int isa) { return isa == CWG_AVX512 ? 32 : 16; }
static size_t nr_of(int isa) { return isa == CWG_AVX512 ? 12 : 6; }
static size_t round_up(size_t a, size_t b) { return (a + b - 1) / b * b; }
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

size_t cwg_row_block(int isa) { return nr_of(isa); }

/* Columns of k per chunk: as many as keep kc x (rows of one m chunk) floats within X_CHUNK_BYTES,
 * at most KC_MAX, balanced so the chunks have equal width (a multiple of 16). */
static size_t chunk_width(size_t mpad, size_t mr, size_t k) {
    size_t rows = min_size(mpad, MC_BLOCKS * mr);
    size_t width = X_CHUNK_BYTES / (rows * sizeof(float));
    if (width > KC_MAX) width = KC_MAX;
    if (width < 64) width = 64;
    size_t chunks = (k + width - 1) / width;
    if (chunks == 0) return 16;
    return round_up((k + chunks - 1) / chunks, 16);
}

size_t cwg_packed_x_count(int isa, size_t m, size_t k) {
    size_t mr = mr_of(isa), mpad = round_up(m, mr), kc = chunk_width(mpad, mr, k);
    return (k + kc - 1) / kc * mpad * kc;
}

size_t cwg_partial_count(int isa, size_t m, size_t n) {
    return round_up(n, nr_of(isa)) * round_up(m, mr_of(isa));
}

/* Layout: for each k chunk c, for each block b of MR rows, kc steps of MR floats (row lanes):
 * packed[((c * blocks + b) * kc + p) * MR + lane] = x[b * MR + lane, c * kc + p], zero past m. */
size_t cwg_x_block_count(int isa, size_t m) { return round_up(m, mr_of(isa)) / mr_of(isa); }

void cwg_pack_x(int isa, const float *x, size_t ldx, size_t m, size_t k, size_t first, size_t end, float *packed) {
    size_t mr = mr_of(isa), mpad = round_up(m, mr), blocks = mpad / mr;
    size_t width = chunk_width(mpad, mr, k);
    size_t chunks = (k + width - 1) / width;
    for (size_t c = 0; c < chunks; c++) {
        size_t k0 = c * width, kc = min_size(width, k - k0);
        for (size_t b = first; b < end && b < blocks; b++) {
            float *dst = packed + (c * blocks + b) * width * mr;
            for (size_t lane = 0; lane < mr; lane++) {
                size_t row = b * mr + lane;
                const float *src = x + row * ldx + k0;
                for (size_t p = 0; p < kc; p++) dst[p * mr + lane] = row < m ? src[p] : 0.0f;
            }
        }
    }
}

/* Exact scalar conversions for the last few columns of a row (and CPUs the vector loops skip). */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu, bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else { /* subnormal: normalize */
        int shift = 0;
        while ((mantissa & 0x400u) == 0) { mantissa <<= 1; shift++; }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mantissa & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void widen_tail(const void *src, size_t from, size_t count, int format, float *dst) {
    for (size_t p = from; p < count; p++) {
        if (format == CWG_F32) {
            dst[p] = ((const float *)src)[p];
        } else {
            uint16_t h = ((const uint16_t *)src)[p];
            if (format == CWG_F16) {
                dst[p] = half_to_float(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(dst + p, &bits, 4);
            }
        }
    }
}

TARGET512 static void widen_row_512(const void *src, size_t count, int format, float *dst) {
    size_t p = 0;
    if (format == CWG_F32) {
        for (; p + 16 <= count; p += 16) _mm512_storeu_ps(dst + p, _mm512_loadu_ps((const float *)src + p));
    } else {
        const uint16_t *s = src;
        for (; p + 16 <= count; p += 16) {
            __m256i h = _mm256_loadu_si256((const __m256i *)(s + p));
            __m512 f = format == CWG_BF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                                          : _mm512_cvtph_ps(h);
            _mm512_storeu_ps(dst + p, f);
        }
    }
    widen_tail(src, p, count, format, dst);
}

TARGET2 static void widen_row_2(const void *src, size_t count, int format, float *dst) {
    size_t p = 0;
    if (format == CWG_F32) {
        for (; p + 8 <= count; p += 8) _mm256_storeu_ps(dst + p, _mm256_loadu_ps((const float *)src + p));
    } else {
        const uint16_t *s = src;
        for (; p + 8 <= count; p += 8) {
            __m128i h = _mm_loadu_si128((const __m128i *)(s + p));
            __m256 f = format == CWG_BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                                          : _mm256_cvtph_ps(h);
            _mm256_storeu_ps(dst + p, f);
        }
    }
    widen_tail(src, p, count, format, dst);
}

/* Lines of memory a kernel call prefetches into L2 as it goes, one per k step: `rows` rows of
 * `lines` cache lines, `stride` bytes apart (the next weight block). Issued all at once before
 * the call, the same prefetches stalled the core for ~7 % of a T5 run. */
typedef struct {
    const char *base;
    size_t stride, lines, rows;
} prefetch_plan;

static inline void prefetch_step(prefetch_plan *plan, size_t *row, size_t *line) {
    if (*row < plan->rows) {
        _mm_prefetch(plan->base + *row * plan->stride + *line * 64, _MM_HINT_T1);
        if (++*line == plan->lines) { *line = 0; ++*row; }
    }
}

/* pt[j * ldp + lane] (+)= sum over p < kc of xp[p * 32 + lane] * wb[j * WB_STRIDE + p], for j < 12
 * and lane < 32: 24 zmm accumulators, two X loads and twelve broadcasts per step. */
TARGET512 static void kernel_512(size_t kc, const float *restrict xp, const float *restrict wb,
                                 float *restrict pt, size_t ldp, int accumulate, prefetch_plan plan) {
    size_t pf_row = 0, pf_line = 0;
#define LOAD512(j) \
    __m512 a##j = accumulate ? _mm512_loadu_ps(pt + (j) * ldp) : _mm512_setzero_ps(); \
    __m512 b##j = accumulate ? _mm512_loadu_ps(pt + (j) * ldp + 16) : _mm512_setzero_ps();
    LOAD512(0) LOAD512(1) LOAD512(2) LOAD512(3) LOAD512(4) LOAD512(5)
    LOAD512(6) LOAD512(7) LOAD512(8) LOAD512(9) LOAD512(10) LOAD512(11)
    for (size_t p = 0; p < kc; p++) {
        /* X streams from L2; the L1 prefetchers alone leave the FMA units waiting (measured:
         * 85-88 GFLOPS on one core without this line, 105-109 with it). 8 steps ahead. */
        _mm_prefetch((const char *)(xp + p * 32 + 256), _MM_HINT_T0);
        _mm_prefetch((const char *)(xp + p * 32 + 272), _MM_HINT_T0);
        __m512 x0 = _mm512_loadu_ps(xp + p * 32), x1 = _mm512_loadu_ps(xp + p * 32 + 16);
        prefetch_step(&plan, &pf_row, &pf_line);
#define STEP512(j) { \
        __m512 w = _mm512_set1_ps(wb[(j) * WB_STRIDE + p]); \
        a##j = _mm512_fmadd_ps(x0, w, a##j); b##j = _mm512_fmadd_ps(x1, w, b##j); }
        STEP512(0) STEP512(1) STEP512(2) STEP512(3) STEP512(4) STEP512(5)
        STEP512(6) STEP512(7) STEP512(8) STEP512(9) STEP512(10) STEP512(11)
    }
#define STORE512(j) _mm512_storeu_ps(pt + (j) * ldp, a##j); _mm512_storeu_ps(pt + (j) * ldp + 16, b##j);
    STORE512(0) STORE512(1) STORE512(2) STORE512(3) STORE512(4) STORE512(5)
    STORE512(6) STORE512(7) STORE512(8) STORE512(9) STORE512(10) STORE512(11)
}

/* The same with 16 lanes of X rows and 6 weight rows (12 of the 16 ymm registers accumulate). */
TARGET2 static void kernel_2(size_t kc, const float *restrict xp, const float *restrict wb,
                             float *restrict pt, size_t ldp, int accumulate, prefetch_plan plan) {
    size_t pf_row = 0, pf_line = 0;
#define LOAD2(j) \
    __m256 a##j = accumulate ? _mm256_loadu_ps(pt + (j) * ldp) : _mm256_setzero_ps(); \
    __m256 b##j = accumulate ? _mm256_loadu_ps(pt + (j) * ldp + 8) : _mm256_setzero_ps();
    LOAD2(0) LOAD2(1) LOAD2(2) LOAD2(3) LOAD2(4) LOAD2(5)
    for (size_t p = 0; p < kc; p++) {
        _mm_prefetch((const char *)(xp + p * 16 + 128), _MM_HINT_T0);
        __m256 x0 = _mm256_loadu_ps(xp + p * 16), x1 = _mm256_loadu_ps(xp + p * 16 + 8);
        prefetch_step(&plan, &pf_row, &pf_line);
#define STEP2(j) { \
        __m256 w = _mm256_broadcast_ss(wb + (j) * WB_STRIDE + p); \
        a##j = _mm256_fmadd_ps(x0, w, a##j); b##j = _mm256_fmadd_ps(x1, w, b##j); }
        STEP2(0) STEP2(1) STEP2(2) STEP2(3) STEP2(4) STEP2(5)
    }
#define STORE2(j) _mm256_storeu_ps(pt + (j) * ldp, a##j); _mm256_storeu_ps(pt + (j) * ldp + 8, b##j);
    STORE2(0) STORE2(1) STORE2(2) STORE2(3) STORE2(4) STORE2(5)
}

static size_t element_size(int format) { return format == CWG_F32 ? 4 : 2; }

static void prefetch_range(const void *start, size_t bytes) {
    const char *p = start;
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T1);
}

void cwg_multiply(int isa, const float *packed_x, size_t m, size_t k,
                  const void *w, size_t ldw, int format, size_t n,
                  float *y, size_t ldy, float *partial) {
    if (isa == CWG_NONE || isa > cwg_available() || m == 0 || n == 0) return;
    if (k == 0) {
        for (size_t i = 0; i < m; i++) memset(y + i * ldy, 0, n * sizeof(float));
        return;
    }
    size_t mr = mr_of(isa), nr = nr_of(isa), esize = element_size(format);
    size_t mpad = round_up(m, mr), blocks = mpad / mr;
    size_t width = chunk_width(mpad, mr, k);
    size_t chunks = (k + width - 1) / width;
    const char *wbytes = w;
    float wb[NR_MAX * WB_STRIDE] __attribute__((aligned(64)));
    for (size_t c = 0; c < chunks; c++) {
        size_t k0 = c * width, kc = min_size(width, k - k0);
        for (size_t b0 = 0; b0 < blocks; b0 += MC_BLOCKS) {
            size_t b1 = min_size(blocks, b0 + MC_BLOCKS);
            for (size_t n0 = 0; n0 < n; n0 += nr) {
                size_t rows = min_size(nr, n - n0);
                for (size_t j = 0; j < nr; j++) {
                    if (j < rows) {
                        const void *src = wbytes + ((n0 + j) * ldw + k0) * esize;
                        if (isa == CWG_AVX512) widen_row_512(src, kc, format, wb + j * WB_STRIDE);
                        else widen_row_2(src, kc, format, wb + j * WB_STRIDE);
                    } else {
                        memset(wb + j * WB_STRIDE, 0, kc * sizeof(float));
                    }
                }
                /* The next block's weights arrive during the first kernel call; its partial sums
                 * (few lines) are requested now. */
                prefetch_plan next = {0};
                if (n0 + nr < n) {
                    size_t next_rows = min_size(nr, n - n0 - nr);
                    next.base = wbytes + ((n0 + nr) * ldw + k0) * esize;
                    next.stride = ldw * esize;
                    next.lines = (kc * esize + 63) / 64;
                    next.rows = next_rows;
                    if (c > 0) {
                        for (size_t j = 0; j < next_rows; j++) {
                            prefetch_range(partial + (n0 + nr + j) * mpad + b0 * mr, (b1 - b0) * mr * sizeof(float));
                        }
                    }
                }
                for (size_t b = b0; b < b1; b++) {
                    const float *xp = packed_x + (c * blocks + b) * width * mr;
                    float *pt = partial + n0 * mpad + b * mr;
                    prefetch_plan plan = b == b0 ? next : (prefetch_plan){0};
                    if (isa == CWG_AVX512) kernel_512(kc, xp, wb, pt, mpad, c > 0, plan);
                    else kernel_2(kc, xp, wb, pt, mpad, c > 0, plan);
                    if (c + 1 == chunks) { /* final sums: transpose the tile into Y while it is in L1 */
                        size_t i1 = min_size(m, (b + 1) * mr);
                        for (size_t i = b * mr; i < i1; i++) {
                            float *row = y + i * ldy + n0;
                            for (size_t j = 0; j < rows; j++) row[j] = pt[j * mpad + i - b * mr];
                        }
                    }
                }
            }
        }
    }
}
