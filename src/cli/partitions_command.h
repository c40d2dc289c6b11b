// `nodespace partitions`: the partition layout and tiers (status), and the
// operator's controls: split [--scheme time|size] [--target-nodes N]
// [--batch-rows N], tiering [--cold-after-ms N], compact ID.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <ostream>
#include <string>

#include "nodespace/database.h"

namespace nodespace::cli {

struct PartitionsArgs {
  CLI::App* status = nullptr;
  CLI::App* split = nullptr;
  CLI::App* tiering = nullptr;
  CLI::App* compact = nullptr;
  std::string scheme = "time";
  int64_t target_nodes = PartitionOptions{}.target_nodes;
  int64_t batch_rows = PartitionOptions{}.split_batch_rows;
  int64_t cold_after_ms = PartitionOptions{}.cold_after_ms;
  int64_t id = 0;
};

CLI::App* AddPartitionsCommand(CLI::App& app, PartitionsArgs& args);

// Opens the database itself: a split or tiering needs its options at open.
int RunPartitionsCommand(const std::string& db_path, const PartitionsArgs& args, bool json,
                         std::ostream& out, std::ostream& err);

// One partition per line, or the status as JSON.
void PrintPartitioningStatus(const PartitioningStatus& st, bool json, std::ostream& out);

}  // namespace nodespace::cli
