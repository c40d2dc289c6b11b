#include "index/vector/distance.h"

#include <immintrin.h>

#include <cmath>

namespace nodespace::vector {
namespace {

float DotPortable(const float* a, const float* b, size_t dim) {
  // Four partial sums let the compiler vectorise with SSE2 without
  // -ffast-math (reassociation is written out, not assumed).
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < dim; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

float L2Portable(const float* a, const float* b, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
    float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; ++i) {
    float d = a[i] - b[i];
    s0 += d * d;
  }
  return (s0 + s1) + (s2 + s3);
}

int32_t DotU8I16Portable(const int16_t* w, const uint8_t* code, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) s += int32_t{w[i]} * int32_t{code[i]};
  return s;
}

#if defined(__x86_64__) || defined(__i386__)
#define NS_HAVE_X86 1

__attribute__((target("avx2,fma"))) inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 shuf = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  float s = HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < dim; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) float L2Avx2(const float* a, const float* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
  }
  float s = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < dim; ++i) {
    float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

// Codes widen to 16 bits and multiply-add in pairs with the 16-bit weights
// (vpmaddwd): 16 dimensions per instruction, no conversion to float.
__attribute__((target("avx2,fma"))) int32_t DotU8I16Avx2(const int16_t* w, const uint8_t* code,
                                                         size_t dim) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i)));
    __m256i c1 =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i + 16)));
    __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
    __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, w0));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(c1, w1));
  }
  for (; i + 16 <= dim; i += 16) {
    __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i)));
    __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, w0));
  }
  __m256i acc = _mm256_add_epi32(acc0, acc1);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  int32_t sum = _mm_cvtsi128_si32(s);
  for (; i < dim; ++i) sum += int32_t{w[i]} * int32_t{code[i]};
  return sum;
}
#endif

bool UseAvx2() {
#ifdef NS_HAVE_X86
  static const bool use = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return use;
#else
  return false;
#endif
}

using U8Fn = int32_t (*)(const int16_t*, const uint8_t*, size_t);

struct Kernels {
  DistanceFn dot;
  DistanceFn l2;
  U8Fn dot_u8;
};

const Kernels& Active() {
  static const Kernels kernels = [] {
#ifdef NS_HAVE_X86
    if (UseAvx2()) return Kernels{DotAvx2, L2Avx2, DotU8I16Avx2};
#endif
    return Kernels{DotPortable, L2Portable, DotU8I16Portable};
  }();
  return kernels;
}

#ifdef NS_HAVE_X86
__attribute__((target("avx2,fma"))) float CosineAvx2(const float* a, const float* b, size_t dim) {
  return 1.0f - DotAvx2(a, b, dim);
}
__attribute__((target("avx2,fma"))) float NegDotAvx2(const float* a, const float* b, size_t dim) {
  return -DotAvx2(a, b, dim);
}
#endif
float CosinePortable(const float* a, const float* b, size_t dim) {
  return 1.0f - DotPortable(a, b, dim);
}
float NegDotPortable(const float* a, const float* b, size_t dim) {
  return -DotPortable(a, b, dim);
}

}  // namespace

float DotProduct(const float* a, const float* b, size_t dim) {
  return Active().dot(a, b, dim);
}
float L2Squared(const float* a, const float* b, size_t dim) {
  return Active().l2(a, b, dim);
}
int32_t DotProductU8I16(const int16_t* w, const uint8_t* code, size_t dim) {
  return Active().dot_u8(w, code, dim);
}

DistanceFn GetDistanceFn(Metric metric) {
  const bool avx2 = UseAvx2();
  switch (metric) {
    case Metric::kCosine:
#ifdef NS_HAVE_X86
      if (avx2) return CosineAvx2;
#endif
      return CosinePortable;
    case Metric::kDot:
#ifdef NS_HAVE_X86
      if (avx2) return NegDotAvx2;
#endif
      return NegDotPortable;
    case Metric::kL2:
      return Active().l2;
  }
  (void)avx2;
  return CosinePortable;
}

bool Normalize(float* v, size_t dim) {
  double sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(v[i]) * v[i];
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (size_t i = 0; i < dim; ++i) v[i] *= inv;
  return true;
}

const char* ActiveKernelName() {
  return UseAvx2() ? "avx2+fma" : "portable";
}

}  // namespace nodespace::vector
