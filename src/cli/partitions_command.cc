#include "cli/partitions_command.h"

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/progress.h"

namespace nodespace::cli {

CLI::App* AddPartitionsCommand(CLI::App& app, PartitionsArgs& args) {
  auto* cmd = app.add_subcommand("partitions", "partition layout and hot/cold tiers");
  args.status = cmd->add_subcommand("status", "each partition: nodes, time range, tier, index");
  args.split = cmd->add_subcommand(
      "split", "partition the database now (EnablePartitioning); resumes a split cut short");
  args.split->add_option("--scheme", args.scheme, "time (creation order) or size (balanced)")
      ->check(CLI::IsMember({"time", "size"}));
  args.split->add_option("--target-nodes", args.target_nodes, "nodes per partition")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  args.split->add_option("--batch-rows", args.batch_rows, "rows moved per transaction")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  args.tiering = cmd->add_subcommand(
      "tiering", "turn hot/cold tiers on (EnableTieredStorage) and run one tier pass");
  args.tiering
      ->add_option("--cold-after-ms", args.cold_after_ms,
                   "idle time after which a partition turns cold")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 50));
  args.compact = cmd->add_subcommand("compact", "compact one partition's vector index");
  args.compact->add_option("id", args.id, "partition id")->required();
  return cmd;
}

void PrintPartitioningStatus(const PartitioningStatus& st, bool json, std::ostream& out) {
  const VectorServiceInfo& vs = st.vector_service;
  if (json) {
    nlohmann::json parts = nlohmann::json::array();
    for (const PartitionInfo& p : st.partitions) {
      parts.push_back({{"id", p.id},
                       {"node_count", p.node_count},
                       {"min_created_ms", p.min_created_ms},
                       {"max_created_ms", p.max_created_ms},
                       {"tier", p.tier},
                       {"tier_since_ms", p.tier_since_ms},
                       {"last_access_ms", p.last_access_ms},
                       {"index_loaded", p.index_loaded},
                       {"index_vectors", p.index_vectors},
                       {"index_memory_bytes", p.index_memory_bytes},
                       {"index_file_bytes", p.index_file_bytes},
                       {"index_int8", p.index_int8}});
    }
    out << nlohmann::json({{"state", st.state},
                           {"scheme", PartitionSchemeName(st.scheme)},
                           {"target_nodes", st.target_nodes},
                           {"unassigned_nodes", st.unassigned_nodes},
                           {"tiering", st.tiering},
                           {"cold_after_ms", st.cold_after_ms},
                           {"partitions", parts},
                           {"vector_service",
                            {{"enabled", vs.enabled},
                             {"running", vs.running},
                             {"healthy", vs.healthy},
                             {"pid", vs.pid},
                             {"port", vs.port},
                             {"restarts", vs.restarts},
                             {"remote_searches", vs.remote_searches},
                             {"fallbacks", vs.fallbacks},
                             {"last_error", vs.last_error}}}})
               .dump()
        << "\n";
    return;
  }
  auto print_service = [&] {
    out << "vector service: ";
    if (vs.running) {
      out << (vs.healthy ? "healthy" : "not answering") << ", pid " << vs.pid << ", port "
          << vs.port << ", " << vs.restarts << " restarts";
    } else {
      out << (vs.enabled ? "enabled (started by a process that runs the scaling manager)"
                         : "off (vector search in-process)");
    }
    out << "\n";
  };
  if (st.state == "none") {
    print_service();
    out << "not partitioned (`nodespace partitions split` or the scaling manager past its "
           "partitioning threshold)\n";
    return;
  }
  out << "state: " << st.state << ", scheme " << PartitionSchemeName(st.scheme) << ", target "
      << WithThousands(static_cast<uint64_t>(st.target_nodes)) << " nodes";
  if (st.unassigned_nodes > 0) {
    out << ", " << WithThousands(static_cast<uint64_t>(st.unassigned_nodes))
        << " nodes not yet moved";
  }
  out << "\n";
  print_service();
  out << "tiers: ";
  if (st.tiering) {
    out << "on, cold after " << st.cold_after_ms / 1000 << " s untouched\n";
  } else {
    out << "off\n";
  }
  for (const PartitionInfo& p : st.partitions) {
    out << "  p" << p.id << ": " << WithThousands(static_cast<uint64_t>(p.node_count)) << " nodes, "
        << p.tier;
    if (p.index_loaded) {
      out << ", index loaded (" << WithThousands(static_cast<uint64_t>(p.index_vectors))
          << " vectors, " << p.index_memory_bytes / 1024 << " KiB in memory"
          << (p.index_int8 ? ", int8" : "") << ")";
    } else {
      out << ", index not in memory";
    }
    out << "\n";
  }
}

int RunPartitionsCommand(const std::string& db_path, const PartitionsArgs& args, bool json,
                         std::ostream& out, std::ostream& err) {
  auto fail = [&](const Status& st) {
    err << "error: " << st.message() << "\n";
    return kExitError;
  };
  Options options;
  options.create_if_missing = false;
  options.partitions.scheme =
      args.scheme == "size" ? PartitionScheme::kSize : PartitionScheme::kTime;
  options.partitions.target_nodes = args.target_nodes;
  options.partitions.split_batch_rows = args.batch_rows;
  options.partitions.cold_after_ms = args.cold_after_ms;
  auto db = Database::Open(db_path, options);
  if (!db.ok()) return fail(db.status());
  auto report = [&](const Result<ScalingEvent>& e) {
    if (!e.ok()) return fail(e.status());
    if (json) {
      out << nlohmann::json({{"result", e->result},
                             {"message", e->message},
                             {"detail", nlohmann::json::parse(e->detail_json, nullptr, false)}})
                 .dump()
          << "\n";
    } else {
      out << e->message << "\n";
    }
    return e->result == "failed" ? kExitError : kExitOk;
  };
  if (args.split->parsed()) {
    return report((*db)->ApplyScalingAction(OptimizationAction::kEnablePartitioning));
  }
  if (args.tiering->parsed()) {
    return report((*db)->ApplyScalingAction(OptimizationAction::kEnableTieredStorage));
  }
  if (args.compact->parsed()) {
    Result<int64_t> reclaimed = (*db)->CompactPartition(args.id);
    if (!reclaimed.ok()) return fail(reclaimed.status());
    if (json) {
      out << nlohmann::json({{"partition", args.id}, {"reclaimed", *reclaimed}}).dump() << "\n";
    } else {
      out << "partition " << args.id << ": " << *reclaimed << " tombstoned slots reclaimed\n";
    }
    return kExitOk;
  }
  Result<PartitioningStatus> st = (*db)->GetPartitioningStatus();
  if (!st.ok()) return fail(st.status());
  PrintPartitioningStatus(*st, json, out);
  return kExitOk;
}

}  // namespace nodespace::cli
