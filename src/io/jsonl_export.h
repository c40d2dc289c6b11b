// JSONL export: every node (all lifecycles) in depth-first order, parents
// before children and siblings in order, then every stored edge that is not
// derived from content. Importing the output into an empty database gives
// one whose export is byte-identical.
#pragma once

#include <ostream>

#include "nodespace/database.h"

namespace nodespace::io {

struct ExportOptions {
  bool with_embeddings = true;
  std::string root_id;  // empty: the whole database
};

struct ExportSummary {
  uint64_t nodes = 0;
  uint64_t edges = 0;
};

Result<ExportSummary> ExportJsonl(const Database& db, std::ostream& out,
                                  const ExportOptions& options = {});

}  // namespace nodespace::io
