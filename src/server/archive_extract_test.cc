#include "server/archive_extract.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "archive_writer.h"
#include "test_util.h"

namespace nodespace::server {
namespace {

namespace fs = std::filesystem;
using nodespace::testing::ArchiveEntry;
using nodespace::testing::WriteArchive;

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ArchiveExtract, UnpacksZipAndTarAndFindsTheTopFolder) {
  nodespace::testing::TempDir dir;
  for (bool tar : {false, true}) {
    const std::string archive = dir.Sub(tar ? "vault.tar.gz" : "vault.zip");
    WriteArchive(archive,
                 {{"vault/", "", nodespace::testing::kArchiveDir},
                  {"vault/Home.md", "# Home\n"},
                  {"vault/notes/Idea.md", "an idea"}},
                 tar);
    const std::string out = dir.Sub(tar ? "out-tar" : "out-zip");
    auto r = ExtractArchive(archive, out, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->files, 2u);
    EXPECT_EQ(r->single_top_dir, "vault");
    EXPECT_EQ(Read(fs::path(out) / "vault/notes/Idea.md"), "an idea");
  }
  // Files at the top level: no single folder.
  const std::string flat = dir.Sub("flat.zip");
  WriteArchive(flat, {{"a.md", "a"}, {"b/c.md", "c"}});
  auto r = ExtractArchive(flat, dir.Sub("out-flat"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->single_top_dir, "");
}

TEST(ArchiveExtract, RefusesPathsOutsideTheFolderAndSkipsLinks) {
  nodespace::testing::TempDir dir;
  const std::string evil = dir.Sub("evil.zip");
  WriteArchive(evil, {{"ok.md", "fine"}, {"../escaped.md", "nope"}});
  auto r = ExtractArchive(evil, dir.Sub("out"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("unsafe path"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.Sub("escaped.md")));

  const std::string absolute = dir.Sub("absolute.tar.gz");
  WriteArchive(absolute, {{"/etc/nodespace-test.md", "nope"}}, true);
  r = ExtractArchive(absolute, dir.Sub("out-abs"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(fs::exists("/etc/nodespace-test.md"));

  const std::string links = dir.Sub("links.tar.gz");
  WriteArchive(
      links,
      {{"v/a.md", "a"}, {"v/passwd", "", nodespace::testing::kArchiveSymlink, "/etc/passwd"}},
      true);
  r = ExtractArchive(links, dir.Sub("out-links"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 1u);
  EXPECT_EQ(r->skipped, 1u);
  EXPECT_FALSE(fs::exists(dir.Sub("out-links") + "/v/passwd"));
}

TEST(ArchiveExtract, BoundsWhatASmallArchiveMayUnpackTo) {
  nodespace::testing::TempDir dir;
  const std::string bomb = dir.Sub("bomb.zip");
  WriteArchive(bomb, {{"big.md", std::string(1 << 20, 'x')}});
  ExtractLimits limits;
  limits.max_bytes = 1000;
  auto r = ExtractArchive(bomb, dir.Sub("out"), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 1000 bytes"), std::string::npos);
  limits = {};
  limits.max_entries = 1;
  WriteArchive(bomb, {{"a.md", "a"}, {"b.md", "b"}});
  r = ExtractArchive(bomb, dir.Sub("out2"), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 1 entries"), std::string::npos);
}

TEST(ArchiveExtract, ReportsWhatIsNotAnArchive) {
  nodespace::testing::TempDir dir;
  const std::string junk = dir.Sub("junk.zip");
  std::ofstream(junk) << "this is not an archive at all";
  auto r = ExtractArchive(junk, dir.Sub("out"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
}

}  // namespace
}  // namespace nodespace::server
