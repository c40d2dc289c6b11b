// ScalingMetrics as JSON: one spelling for the scaling history, `nodespace
// stats --json` and `nodespace scaling status --json`.
#pragma once

#include <nlohmann/json.hpp>

#include "nodespace/scaling.h"

namespace nodespace::scaling {

nlohmann::json MetricsToJson(const ScalingMetrics& m);

}  // namespace nodespace::scaling
