// `nodespace import`: how many nodes each transaction takes by default.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "test_util.h"

namespace nodespace::cli {
namespace {

// The "committed lines A-B ..." lines of an import with --report-commits.
std::vector<std::string> CommittedRanges(const std::string& db, const std::string& file,
                                         std::vector<std::string> extra_args) {
  std::ostringstream out, err;
  Session session(out, err, /*terminal=*/false);
  std::vector<std::string> args = {"--db", db, "import", file, "--report-commits"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  EXPECT_EQ(session.Run(args), kExitOk) << err.str();
  std::vector<std::string> ranges;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("committed lines ", 0) == 0) {
      ranges.push_back(line.substr(0, line.find(" nodes")));
    }
  }
  return ranges;
}

TEST(ImportCommand, ABulkLoadCommitsFiftyThousandNodesPerTransactionUnlessToldOtherwise) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/nodes.jsonl";
  {
    std::ofstream out(file);
    for (int i = 0; i < 6000; ++i) {
      out << R"({"id":"n)" << i << R"(","content":"note )" << i << "\"}\n";
    }
  }
  // Into an empty database the import bulk loads: one transaction.
  EXPECT_EQ(CommittedRanges(dir.path() + "/a", file, {}),
            std::vector<std::string>{"committed lines 1-6000"});
  // Row by row: 5,000 per transaction.
  EXPECT_EQ(CommittedRanges(dir.path() + "/b", file, {"--bulk", "off"}),
            (std::vector<std::string>{"committed lines 1-5000", "committed lines 5001-6000"}));
  // An explicit size wins either way.
  EXPECT_EQ(CommittedRanges(dir.path() + "/c", file, {"--batch-size", "2500"}),
            (std::vector<std::string>{"committed lines 1-2500", "committed lines 2501-5000",
                                      "committed lines 5001-6000"}));
}

}  // namespace
}  // namespace nodespace::cli
