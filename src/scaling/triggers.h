// TriggerEvaluator: the scaling strategy's triggers with hysteresis.
//
// A trigger fires when its metric is past its threshold and the trigger is
// armed; firing disarms it. It re-arms once the metric has fallen below
// (1 - hysteresis) x threshold and rearm_ms have passed since it fired, so a
// metric hovering at the threshold fires once, not every interval. Latency
// triggers only judge windows with enough operations (min_window_queries).
//
// Thread safety: none; the scaling manager owns one and serialises calls.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nodespace/scaling.h"

namespace nodespace::scaling {

struct TriggerState {
  bool armed = true;
  int64_t fired_at_ms = 0;
};

struct FiredTrigger {
  std::string name;
  std::string phrase;  // "latency > 100ms", as the strategy words it
  std::string reason;  // "avg query latency 140.2 ms > 100 ms"
  std::vector<OptimizationAction> actions;
};

class TriggerEvaluator {
 public:
  explicit TriggerEvaluator(const ScalingThresholds& thresholds) : t_(thresholds) {}

  // Judges every trigger against `m`. With `fired` non-null, armed triggers
  // past their threshold fire (appended to *fired, then disarmed) and
  // disarmed ones re-arm when the hysteresis allows; with null, nothing
  // changes (a status report).
  std::vector<ScalingStatus::Trigger> Evaluate(const ScalingMetrics& m, int64_t now_ms,
                                               std::vector<FiredTrigger>* fired);

  // What will fire next, in words, given the metrics now.
  std::string Next(const ScalingMetrics& m) const;

  // The state of each trigger by name (persisted by the manager).
  std::map<std::string, TriggerState>& states() { return states_; }

 private:
  ScalingThresholds t_;
  std::map<std::string, TriggerState> states_;
};

// "10K", "1.5M", "1GB": thresholds as the strategy writes them.
std::string CompactCount(double value);
std::string CompactBytes(double bytes);

// The log line of an action: "Query cache enabled due to latency > 100ms".
std::string ActionLogLine(OptimizationAction action, const std::string& result,
                          const std::string& phrase);

}  // namespace nodespace::scaling
