#include "chalfconvert.h"

#include <immintrin.h>
#include <string.h>

static inline float bits_to_f32(uint32_t bits) { float f; memcpy(&f, &bits, 4); return f; }
static inline uint32_t f32_to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0) {
        if (mantissa == 0) return bits_to_f32(sign);
        /* subnormal: value = mantissa * 2^-24 */
        float value = (float)mantissa * 5.9604644775390625e-08f;
        return bits_to_f32(sign | f32_to_bits(value));
    }
    if (exponent == 31) return bits_to_f32(sign | 0x7F800000u | (mantissa << 13));
    return bits_to_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

static uint16_t float_to_half(float f) {
    uint32_t x = f32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) {  /* inf or NaN */
        if (abs > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
        return (uint16_t)(sign | 0x7C00u);
    }
    if (abs >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* rounds to >= 65520: inf */
    if (abs < 0x38800000u) {  /* below the smallest normal half: subnormal or zero */
        if (abs < 0x33000000u) return (uint16_t)sign;  /* < 2^-25 rounds to zero */
        uint32_t exponent = abs >> 23;
        uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126u - exponent;            /* 14 .. 24 */
        uint32_t half_mantissa = mantissa >> shift;
        uint32_t remainder = mantissa & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (remainder > halfway || (remainder == halfway && (half_mantissa & 1u))) half_mantissa++;
        return (uint16_t)(sign | half_mantissa);
    }
    uint32_t rounded = abs + 0xFFFu + ((abs >> 13) & 1u);  /* round to nearest even at bit 13 */
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

void chc_f16_to_f32_reference(const uint16_t *src, float *dst, size_t count) {
    for (size_t i = 0; i < count; ++i) dst[i] = half_to_float(src[i]);
}

void chc_f32_to_f16_reference(const float *src, uint16_t *dst, size_t count) {
    for (size_t i = 0; i < count; ++i) dst[i] = float_to_half(src[i]);
}

int chc_has_f16c(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return cached;
}

__attribute__((target("avx2,f16c")))
static void f16_to_f32_f16c(const uint16_t *src, float *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < count; ++i) dst[i] = half_to_float(src[i]);
}

__attribute__((target("avx2,f16c")))
static void f32_to_f16_f16c(const float *src, uint16_t *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 f = _mm256_loadu_ps(src + i);
        __m128i h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    for (; i < count; ++i) dst[i] = float_to_half(src[i]);
}

void chc_f16_to_f32(const uint16_t *src, float *dst, size_t count) {
    if (chc_has_f16c()) f16_to_f32_f16c(src, dst, count);
    else chc_f16_to_f32_reference(src, dst, count);
}

void chc_f32_to_f16(const float *src, uint16_t *dst, size_t count) {
    if (chc_has_f16c()) f32_to_f16_f16c(src, dst, count);
    else chc_f32_to_f16_reference(src, dst, count);
}

void chc_bf16_to_f32(const uint16_t *src, float *dst, size_t count) {
    for (size_t i = 0; i < count; ++i) dst[i] = bits_to_f32((uint32_t)src[i] << 16);
}

void chc_f32_to_bf16(const float *src, uint16_t *dst, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        uint32_t x = f32_to_bits(src[i]);
        if ((x & 0x7FFFFFFFu) > 0x7F800000u) { dst[i] = (uint16_t)((x >> 16) | 0x40u); continue; }
        x += 0x7FFFu + ((x >> 16) & 1u);
        dst[i] = (uint16_t)(x >> 16);
    }
}
