#include "index/vector/quantizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "index/vector/distance.h"

namespace nodespace::vector {

Int8Quantizer Int8Quantizer::Train(const float* vectors, size_t count, size_t dim) {
  Int8Quantizer q;
  q.dim_ = dim;
  q.min_.assign(dim, std::numeric_limits<float>::max());
  std::vector<float> max(dim, std::numeric_limits<float>::lowest());
  for (size_t i = 0; i < count; ++i) {
    const float* v = vectors + i * dim;
    for (size_t d = 0; d < dim; ++d) {
      q.min_[d] = std::min(q.min_[d], v[d]);
      max[d] = std::max(max[d], v[d]);
    }
  }
  q.scale_.resize(dim);
  for (size_t d = 0; d < dim; ++d) {
    if (count == 0) q.min_[d] = max[d] = 0;
    float spread = max[d] - q.min_[d];
    q.scale_[d] = spread > 0 ? spread / 255.0f : 1.0f;
  }
  return q;
}

Result<Int8Quantizer> Int8Quantizer::FromParams(std::span<const float> params, size_t dim) {
  if (params.size() != 2 * dim) {
    return Status::Corruption("int8 quantizer has " + std::to_string(params.size()) +
                              " parameters, expected " + std::to_string(2 * dim));
  }
  Int8Quantizer q;
  q.dim_ = dim;
  q.min_.assign(params.begin(), params.begin() + static_cast<std::ptrdiff_t>(dim));
  q.scale_.assign(params.begin() + static_cast<std::ptrdiff_t>(dim), params.end());
  for (float s : q.scale_) {
    if (!(s > 0) || !std::isfinite(s))
      return Status::Corruption("int8 quantizer scale is not positive");
  }
  return q;
}

std::vector<float> Int8Quantizer::Params() const {
  std::vector<float> p(min_);
  p.insert(p.end(), scale_.begin(), scale_.end());
  return p;
}

void Int8Quantizer::Encode(const float* v, uint8_t* code) const {
  for (size_t d = 0; d < dim_; ++d) {
    float c = std::nearbyint((v[d] - min_[d]) / scale_[d]);
    code[d] = static_cast<uint8_t>(std::clamp(c, 0.0f, 255.0f));
  }
}

void Int8Quantizer::Decode(const uint8_t* code, float* out) const {
  for (size_t d = 0; d < dim_; ++d) out[d] = min_[d] + scale_[d] * static_cast<float>(code[d]);
}

// x_d = min_d + scale_d * c_d, so
//   q.x        = sum q_d min_d + sum (q_d scale_d) c_d
//   |q - x|^2  = |q|^2 - 2 q.x + |x|^2
Int8Quantizer::PreparedQuery Int8Quantizer::Prepare(const float* query, Metric metric) const {
  PreparedQuery p;
  p.metric = metric;
  std::vector<float> weights(dim_);
  float dot_min = 0, q_sq = 0;
  for (size_t d = 0; d < dim_; ++d) {
    weights[d] = query[d] * scale_[d];
    dot_min += query[d] * min_[d];
    q_sq += query[d] * query[d];
  }
  // Fold the sign (and the 2 of L2) into the weights, so that a distance is
  // bias + the weights' dot product with the code.
  float factor = -1.0f;
  switch (metric) {
    case Metric::kCosine:
      p.bias = 1.0f - dot_min;  // 1 - q.x
      break;
    case Metric::kDot:
      p.bias = -dot_min;
      break;
    case Metric::kL2:
      factor = -2.0f;
      p.bias = q_sq - 2.0f * dot_min;
      break;
  }
  float max_abs = 0;
  for (float& w : weights) {
    w *= factor;
    max_abs = std::max(max_abs, std::fabs(w));
  }
  // The largest integer weight keeps 255 * dim * |w| inside int32, so the
  // kernel's sum cannot overflow (16 bits up to 2,056 dimensions).
  const double limit = std::min(
      32767.0, std::floor(2147483647.0 / (255.0 * static_cast<double>(std::max<size_t>(dim_, 1)))));
  p.weights.resize(dim_);
  if (max_abs > 0) {
    p.unit = static_cast<float>(static_cast<double>(max_abs) / limit);
    const double inv = limit / static_cast<double>(max_abs);
    for (size_t d = 0; d < dim_; ++d) {
      p.weights[d] = static_cast<int16_t>(std::lrint(static_cast<double>(weights[d]) * inv));
    }
  }
  return p;
}

float Int8Quantizer::Distance(const PreparedQuery& q, const uint8_t* code,
                              float code_sq_norm) const {
  const float d =
      q.bias + q.unit * static_cast<float>(DotProductU8I16(q.weights.data(), code, dim_));
  return q.metric == Metric::kL2 ? d + code_sq_norm : d;
}

float Int8Quantizer::CodeSquaredNorm(const uint8_t* code) const {
  float s = 0;
  for (size_t d = 0; d < dim_; ++d) {
    float x = min_[d] + scale_[d] * static_cast<float>(code[d]);
    s += x * x;
  }
  return s;
}

}  // namespace nodespace::vector
