#include "cli/scaling_command.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "model/ids.h"
#include "scaling/metrics_json.h"

namespace nodespace::cli {
namespace {

using nlohmann::json;

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, v == static_cast<int64_t>(v) ? "%.0f" : "%.2f", v);
  return buf;
}

void PrintEvent(std::ostream& out, const ScalingEvent& e) {
  out << ids::FormatTimestamp(e.time_ms) << "  " << OptimizationActionName(e.action) << "  "
      << e.result << "  " << Num(e.duration_ms) << " ms\n    " << e.message
      << "\n    trigger: " << e.trigger << "\n";
}

}  // namespace

CLI::App* AddScalingCommand(CLI::App& app, ScalingArgs& args) {
  auto* cmd = app.add_subcommand("scaling", "automatic scaling: status, history, actions");
  cmd->require_subcommand(1);
  args.status = cmd->add_subcommand("status", "phase, metrics against thresholds, what is next");
  args.history = cmd->add_subcommand("history", "what the scaling manager did, newest first");
  args.history->add_option("--limit", args.limit, "events to show")->check(CLI::Range(1, 100000));
  args.check =
      cmd->add_subcommand("check", "sample the metrics and apply what the triggers call for now");
  args.apply = cmd->add_subcommand("apply", "apply one action now (EnableQueryCache, ...)");
  args.apply->add_option("action", args.action, "the action's name")->required();
  args.apply->add_flag("--dry-run", args.dry_run, "say what it would do, change nothing");
  args.migrate =
      cmd->add_subcommand("migrate", "migrate to a phase (1-4): backup, migrate, validate");
  args.migrate->add_option("phase", args.phase)->required()->check(CLI::Range(1, 4));
  return cmd;
}

int RunScalingCommand(Database& db, const ScalingArgs& args, bool json_out, std::ostream& out,
                      std::ostream& err) {
  auto fail = [&](const Status& st) {
    err << "error: " << st.message() << "\n";
    return kExitError;
  };
  auto print_events = [&](const std::vector<ScalingEvent>& events) {
    if (json_out) {
      json arr = json::array();
      for (const ScalingEvent& e : events) arr.push_back(scaling::EventToJson(e));
      out << arr.dump() << "\n";
    } else if (events.empty()) {
      out << "no scaling events\n";
    } else {
      for (const ScalingEvent& e : events) PrintEvent(out, e);
    }
  };
  if (args.status->parsed()) {
    Result<ScalingStatus> st = db.GetScalingStatus();
    if (!st.ok()) return fail(st.status());
    json j = scaling::StatusToJson(*st);
    if (json_out) {
      out << j.dump() << "\n";
      return kExitOk;
    }
    out << ScalingPhaseName(st->phase);
    if (st->derived_phase != st->phase) {
      out << " (size and users call for " << ScalingPhaseName(st->derived_phase) << ")";
    }
    out << "\nmanager: ";
    if (!st->manager_running) {
      out << "not running here";
    } else if (st->check_interval_ms > 0) {
      out << "running in this process, checking every " << Num(st->check_interval_ms / 1000.0)
          << " s";
    } else {
      out << "running in this process, checking only when asked";
    }
    out << "\n\nmetrics\n";
    for (const auto& [k, v] : j["metrics"].items()) out << "  " << k << ": " << v.dump() << "\n";
    out << "\ntriggers (metric value / threshold)\n";
    for (const auto& t : st->triggers) {
      out << "  " << (t.above ? "ABOVE " : "      ") << t.name << ": " << Num(t.value) << " / "
          << Num(t.threshold) << (t.armed ? "" : "  (fired; re-arms below the hysteresis band)")
          << "\n";
    }
    out << "\nmemory tier: cache " << st->memory.cache_size_mb << " MB, vector cache "
        << st->memory.vector_cache_mb << " MB, query cache " << st->memory.query_cache_entries
        << " entries, " << st->memory.background_tasks << " background tasks\n";
    if (st->memory_tier_applied) {
      out << "memory in force: SQLite heap limit " << st->sqlite_heap_limit_mb
          << " MB, vector service " << st->vector_service_resident_mb << " MB resident\n";
    }
    out << "next: " << st->next << "\n";
    return kExitOk;
  }
  if (args.history->parsed()) {
    Result<std::vector<ScalingEvent>> events = db.ScalingHistory(args.limit);
    if (!events.ok()) return fail(events.status());
    print_events(*events);
    return kExitOk;
  }
  if (args.check->parsed()) {
    Result<std::vector<ScalingEvent>> events = db.RunScalingCheck();
    if (!events.ok()) return fail(events.status());
    print_events(*events);
    return kExitOk;
  }
  if (args.apply->parsed()) {
    Result<OptimizationAction> action = ParseOptimizationAction(args.action);
    if (!action.ok()) return fail(action.status());
    Result<ScalingEvent> e = db.ApplyScalingAction(*action, args.dry_run);
    if (!e.ok()) return fail(e.status());
    print_events({*e});
    return e->result == "failed" ? kExitError : kExitOk;
  }
  if (args.migrate->parsed()) {
    Result<ScalingEvent> e = db.MigratePhase(static_cast<ScalingPhase>(args.phase));
    if (!e.ok()) return fail(e.status());
    print_events({*e});
    return e->result == "failed" ? kExitError : kExitOk;
  }
  return fail(Status::InvalidArgument("scaling: name a subcommand"));
}

}  // namespace nodespace::cli
