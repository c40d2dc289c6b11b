// Distance functions shared by every vector index.
#pragma once

#include <cstddef>
#include <string_view>

#include "nodespace/status.h"

namespace nodespace::vector {

// How two vectors are compared. Every index ranks by a distance where smaller
// is closer: cosine uses 1 - cos (vectors are normalised once on insert), dot
// uses -dot, L2 uses the squared Euclidean distance.
enum class Metric { kCosine, kDot, kL2 };

std::string_view MetricName(Metric m);
Result<Metric> ParseMetric(std::string_view name);

}  // namespace nodespace::vector
