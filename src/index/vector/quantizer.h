// Int8Quantizer: 8-bit scalar quantisation with a per-dimension range.
//
// Each dimension d has its own [min_d, max_d] learned from training vectors;
// a value x is stored as the unsigned byte c = round((x - min_d) / scale_d),
// scale_d = (max_d - min_d) / 255, clamped to 0..255 (values outside the
// trained range saturate). Per-dimension ranges matter for embeddings, whose
// dimensions have very different spreads; one global range would waste most
// of the 256 levels on the few widest dimensions.
//
// Distances are asymmetric: the query is folded into a PreparedQuery (weights
// q_d * scale_d plus a constant), so one dot product of the weights with the
// bytes gives the dot product with the decoded vector. The weights are
// rounded to 16-bit integers on a per-query scale, which lets the kernel
// multiply-add codes without converting them to floats (DotProductU8I16);
// the rounding changes a distance by about 1e-5 of its range, far below the
// codes' own error (half a step of 255), and candidates are re-scored with
// floats anyway.
//
// Thread safety: immutable after Train()/FromParams(); concurrent use of a
// const Int8Quantizer is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "index/vector/metric.h"
#include "nodespace/status.h"

namespace nodespace::vector {

class Int8Quantizer {
 public:
  Int8Quantizer() = default;

  // Learns per-dimension min/max from `count` row-major vectors of `dim`
  // floats. A dimension with zero spread gets scale 1 so that decode is exact.
  static Int8Quantizer Train(const float* vectors, size_t count, size_t dim);
  // Rebuilds a quantizer from stored parameters (2 * dim floats: mins, then
  // scales), e.g. from an index file.
  static Result<Int8Quantizer> FromParams(std::span<const float> params, size_t dim);

  bool trained() const { return dim_ > 0; }
  size_t dim() const { return dim_; }
  // mins followed by scales, 2 * dim floats: what FromParams takes back.
  std::vector<float> Params() const;

  void Encode(const float* v, uint8_t* code) const;
  void Decode(const uint8_t* code, float* out) const;

  // A query folded into the code space for one metric.
  struct PreparedQuery {
    // q_d * scale_d (times -1, or -2 for L2) is weights[d] * unit.
    std::vector<int16_t> weights;
    float unit = 0;
    float bias = 0;  // constant part of the distance
    Metric metric = Metric::kCosine;
  };
  PreparedQuery Prepare(const float* query, Metric metric) const;
  // The distance between the query and the decoded code, smaller is closer,
  // with the same meaning as the float metric. For kL2 `code_sq_norm` must be
  // the squared norm of the decoded code (CodeSquaredNorm); other metrics
  // ignore it.
  float Distance(const PreparedQuery& q, const uint8_t* code, float code_sq_norm) const;
  float CodeSquaredNorm(const uint8_t* code) const;

 private:
  size_t dim_ = 0;
  std::vector<float> min_;
  std::vector<float> scale_;
};

}  // namespace nodespace::vector
