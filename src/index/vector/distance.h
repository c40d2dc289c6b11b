// Float32 and 8-bit distance kernels shared by every vector index.
//
// Each kernel exists twice: a portable loop and an AVX2+FMA version compiled
// with a target attribute (the build adds no -march flag). The choice is made
// once per process from __builtin_cpu_supports, so one binary runs everywhere
// and is fast where AVX2 exists.
//
// Thread safety: every function here is pure and safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>

#include "index/vector/metric.h"

namespace nodespace::vector {

// Sum of a[i] * b[i].
float DotProduct(const float* a, const float* b, size_t dim);
// Sum of (a[i] - b[i])^2.
float L2Squared(const float* a, const float* b, size_t dim);
// Sum of w[i] * code[i] for 16-bit weights and unsigned byte codes (see
// Int8Quantizer), in exact integer arithmetic: every kernel returns the same
// value. The caller keeps the sum within int32 (255 * dim * max|w[i]| <
// 2^31).
int32_t DotProductU8I16(const int16_t* w, const uint8_t* code, size_t dim);

// A distance where smaller is closer: 1 - dot for kCosine (both vectors must
// already be unit length), -dot for kDot, squared L2 for kL2.
using DistanceFn = float (*)(const float* a, const float* b, size_t dim);
DistanceFn GetDistanceFn(Metric metric);

inline float Distance(Metric metric, const float* a, const float* b, size_t dim) {
  return GetDistanceFn(metric)(a, b, dim);
}

// Scales `v` to unit length. Returns false (and leaves `v` unchanged) when its
// norm is zero or not finite.
bool Normalize(float* v, size_t dim);

// "avx2+fma" or "portable": the kernels this process uses (for benchmarks and
// logs).
const char* ActiveKernelName();

}  // namespace nodespace::vector
