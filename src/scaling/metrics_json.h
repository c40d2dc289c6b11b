// The scaling model as JSON: one spelling for the scaling history, `nodespace
// stats --json`, `nodespace scaling status --json` and the HTTP API.
#pragma once

#include <nlohmann/json.hpp>

#include "nodespace/scaling.h"

namespace nodespace::scaling {

nlohmann::json MetricsToJson(const ScalingMetrics& m);
// One scaling history row (`nodespace scaling history --json`, GET /v1/scaling/history).
nlohmann::json EventToJson(const ScalingEvent& e);
// Phase, metrics, memory tier, config and triggers (`nodespace scaling
// status --json`, GET /v1/scaling/status).
nlohmann::json StatusToJson(const ScalingStatus& st);

}  // namespace nodespace::scaling
