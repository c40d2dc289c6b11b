// Markdown import speed: generates a vault of N files (default 10,000) under
// /tmp, imports it into a fresh database, then imports it again unchanged.
//
//   build/release/bench/nodespace_markdown_import_bench [files]
//
// Each file has front matter, two headings, a paragraph with two wiki links
// to other files and a tag, a nested list and a task: 8 nodes per file.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "nodespace/database.h"
#include "nodespace/markdown.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const int files = argc > 1 ? std::atoi(argv[1]) : 10000;
  const fs::path base = fs::path("/tmp") / ("nodespace-md-bench-" + std::to_string(getpid()));
  const fs::path vault = base / "vault";
  fs::remove_all(base);
  for (int i = 0; i < files; ++i) {
    const fs::path p =
        vault / ("folder" + std::to_string(i % 50)) / ("Note " + std::to_string(i) + ".md");
    fs::create_directories(p.parent_path());
    std::ofstream f(p);
    f << "---\ntags: [bench, group" << i % 10 << "]\nrating: " << i % 5 << "\n---\n"
      << "# Note " << i << "\n\nA paragraph about item " << i << " that links to [[Note "
      << (i + 1) % files << "]] and [[Note " << (i * 7) % files << "|another]] #topic/" << i % 20
      << ".\n\n## Details\n\n- first point\n  - a nested point\n- second point\n- [ ] a task for "
      << i << "\n";
  }
  auto db = nodespace::Database::Open((base / "db").string());
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
    return 1;
  }
  auto run = [&](const char* label) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = nodespace::ImportMarkdown(**db, vault.string());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    const uint64_t nodes = r->nodes_created + r->nodes_updated;
    std::printf("%-22s %6d files %8llu nodes written %7.2f s %9.0f files/s %9.0f nodes/s\n", label,
                files, static_cast<unsigned long long>(nodes), s, files / s, nodes / s);
  };
  run("import (fresh)");
  run("re-import (unchanged)");
  fs::remove_all(base);
  return 0;
}
