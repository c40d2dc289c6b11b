#include "index/vector/metric.h"

#include <string>

namespace nodespace::vector {

std::string_view MetricName(Metric m) {
  switch (m) {
    case Metric::kCosine:
      return "cosine";
    case Metric::kDot:
      return "dot";
    case Metric::kL2:
      return "l2";
  }
  return "cosine";
}

Result<Metric> ParseMetric(std::string_view name) {
  if (name == "cosine") return Metric::kCosine;
  if (name == "dot") return Metric::kDot;
  if (name == "l2") return Metric::kL2;
  return Status::InvalidArgument("unknown metric '" + std::string(name) +
                                 "'; use cosine, dot or l2");
}

}  // namespace nodespace::vector
