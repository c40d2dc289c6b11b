#include "server/server_metrics.h"

#include <prometheus/text_serializer.h>

#include "scaling/metrics_json.h"

namespace nodespace::server {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

}  // namespace

ServerMetrics::ServerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("nodespace_http_requests_total")
                   .Help("HTTP requests by route template, method and status")
                   .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("nodespace_http_request_duration_seconds")
                  .Help("HTTP request latency by route template and method")
                  .Register(*registry_);
  group_commit_ =
      &prometheus::BuildHistogram()
           .Name("nodespace_group_commit_operations")
           .Help("Single writes committed together in one transaction")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
  commit_seconds_ = &prometheus::BuildHistogram()
                         .Name("nodespace_group_commit_seconds")
                         .Help("How long one group commit's transaction took (write and fsync)")
                         .Register(*registry_)
                         .Add({}, LatencyBuckets());
  feed_latency_ = &prometheus::BuildHistogram()
                       .Name("nodespace_feed_notification_seconds")
                       .Help("From a commit through this server to its change-feed event write")
                       .Register(*registry_)
                       .Add({}, LatencyBuckets());
  open_feeds_ = &prometheus::BuildGauge()
                     .Name("nodespace_open_change_feeds")
                     .Help("Change feeds and live queries streaming now")
                     .Register(*registry_)
                     .Add({});
  auto& threads = prometheus::BuildGauge()
                      .Name("nodespace_connection_threads")
                      .Help("Threads serving connections, by state")
                      .Register(*registry_);
  connection_threads_ = &threads.Add({{"state", "all"}});
  busy_connection_threads_ = &threads.Add({{"state", "busy"}});
}

void ServerMetrics::ObserveRequest(const std::string& route, const std::string& method, int status,
                                   double seconds) {
  requests_->Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}})
      .Increment();
  latency_->Add({{"route", route}, {"method", method}}, LatencyBuckets()).Observe(seconds);
}

void ServerMetrics::ObserveGroupCommit(size_t operations, double seconds) {
  group_commit_->Observe(static_cast<double>(operations));
  commit_seconds_->Observe(seconds);
}

void ServerMetrics::ObserveFeedNotification(double seconds) {
  feed_latency_->Observe(seconds);
}

std::string ServerMetrics::Render(const ScalingMetrics& scaling) {
  std::lock_guard lock(render_mu_);
  const nlohmann::json fields = scaling::MetricsToJson(scaling);
  for (const auto& [name, value] : fields.items()) {
    if (!value.is_number()) continue;
    prometheus::BuildGauge()
        .Name("nodespace_" + name)
        .Help("ScalingMetrics." + name + " (include/nodespace/scaling.h)")
        .Register(*registry_)
        .Add({})
        .Set(value.get<double>());
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace nodespace::server
