// ServerMetrics: what /metrics exposes in the Prometheus text format.
//
// HTTP requests by route template (never the raw path: ids would explode
// the label set), method and status, with latency histograms; group-commit
// sizes; open change feeds; and every ScalingMetrics field as a gauge
// `nodespace_<field>`, sampled when Prometheus scrapes.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>

#include "nodespace/scaling.h"

namespace nodespace::server {

class ServerMetrics {
 public:
  ServerMetrics();

  void ObserveRequest(const std::string& route, const std::string& method, int status,
                      double seconds);
  void ObserveGroupCommit(size_t operations, double seconds);
  void ObserveFeedNotification(double seconds);  // commit to event written
  prometheus::Gauge& open_feeds() { return *open_feeds_; }
  prometheus::Gauge& connection_threads() { return *connection_threads_; }
  prometheus::Gauge& busy_connection_threads() { return *busy_connection_threads_; }

  // The text exposition, with the scaling gauges set from `scaling`.
  std::string Render(const ScalingMetrics& scaling);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Histogram* group_commit_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Histogram* feed_latency_;
  prometheus::Gauge* open_feeds_;
  prometheus::Gauge* connection_threads_;
  prometheus::Gauge* busy_connection_threads_;
  std::mutex render_mu_;  // one scrape at a time sets the scaling gauges
};

}  // namespace nodespace::server
