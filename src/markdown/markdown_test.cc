#include "nodespace/markdown.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "markdown/blocks.h"
#include "markdown/dialect.h"
#include "markdown/front_matter.h"
#include "markdown/refs.h"
#include "markdown/stable_id.h"
#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace::markdown {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The fixture vaults live in the repository, next to this file's tests/ dir.
fs::path VaultDir(const std::string& name) {
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "tests" / "data" /
         "vaults" / name;
}

void WriteFile(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

json Props(const Node& n) {
  return json::parse(n.properties);
}

// ---- pieces -----------------------------------------------------------------

TEST(StableIdTest, DeterministicUuidShape) {
  const std::string a = StableId("vault\nnote.md/0");
  EXPECT_EQ(a, StableId("vault\nnote.md/0"));
  EXPECT_NE(a, StableId("vault\nnote.md/1"));
  EXPECT_TRUE(IsStableId(a)) << a;
  EXPECT_FALSE(IsStableId("0190b6e2-8c4f-7a3e-9b1d-2f3e4a5b6c7d"));  // a UUIDv7
  EXPECT_FALSE(IsStableId("plan"));
}

TEST(BlocksTest, StructureAndSource) {
  const std::string md =
      "Intro with [[Link]].\n\n"
      "## Section\n\n"
      "- [ ] task one\n"
      "- item\n"
      "  second line\n"
      "  - nested\n"
      "1. first\n"
      "2. second\n\n"
      "```cpp\nint x;\n```\n\n"
      "> quoted\n> more\n\n"
      "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
      "Title\n=====\n\n"
      "Sub\n---\n\n"
      "---\n";
  std::vector<Block> b = ParseBlocks(md);
  ASSERT_EQ(b.size(), 12u);
  EXPECT_EQ(b[0].kind, BlockKind::kParagraph);
  EXPECT_EQ(b[0].content, "Intro with [[Link]].");
  EXPECT_EQ(b[1].kind, BlockKind::kHeading);
  EXPECT_EQ(b[1].level, 2);
  EXPECT_EQ(b[1].content, "## Section");
  EXPECT_TRUE(b[2].is_task);
  EXPECT_FALSE(b[2].task_done);
  EXPECT_EQ(b[2].content, "task one");
  EXPECT_EQ(b[3].content, "item\nsecond line");
  ASSERT_EQ(b[3].children.size(), 1u);
  EXPECT_EQ(b[3].children[0].content, "nested");
  EXPECT_TRUE(b[4].ordered);
  EXPECT_EQ(b[5].content, "second");
  EXPECT_EQ(b[6].kind, BlockKind::kCode);
  EXPECT_EQ(b[6].lang, "cpp");
  EXPECT_EQ(b[6].content, "```cpp\nint x;\n```");
  EXPECT_EQ(b[7].kind, BlockKind::kQuote);
  EXPECT_EQ(b[7].content, "> quoted\n> more");
  EXPECT_EQ(b[8].kind, BlockKind::kTable);
  EXPECT_EQ(b[8].content, "| a | b |\n|---|---|\n| 1 | 2 |");
  EXPECT_EQ(b[9].content, "# Title");  // a setext heading
  EXPECT_EQ(b[10].content, "## Sub");  // its underline is no thematic break
  EXPECT_EQ(b[11].kind, BlockKind::kThematicBreak);
  EXPECT_EQ(b[11].content, "---");
  EXPECT_EQ(b[11].line, 28);
}

TEST(BlocksTest, LogseqTabsNest) {
  std::vector<Block> b = ParseBlocks("- a\n\t- b\n\t\t- c\n\t  key:: v\n- d\n", {false});
  ASSERT_EQ(b.size(), 2u);
  ASSERT_EQ(b[0].children.size(), 1u);
  ASSERT_EQ(b[0].children[0].children.size(), 1u);
  EXPECT_EQ(b[0].children[0].children[0].content, "c\nkey:: v");
}

TEST(FrontMatterTest, TypesRoundTrip) {
  FrontMatter fm = SplitFrontMatter("---\na: 1\nb: [x, y]\nc: true\nd: '7'\ne: 2.5\n---\nbody\n");
  ASSERT_TRUE(fm.present);
  EXPECT_EQ(fm.body, "body\n");
  auto j = ParseFrontMatter(fm.yaml);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(*j, json::parse(R"({"a":1,"b":["x","y"],"c":true,"d":"7","e":2.5})"));
  auto back = ParseFrontMatter(EmitFrontMatter(*j));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *j);
  auto bad = ParseFrontMatter("a: [1, 2\nb: x\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("malformed front matter"), std::string::npos);
  EXPECT_FALSE(SplitFrontMatter("---\nno end\n").present);
}

TEST(RefsTest, LinksTagsAndBlockRefsOutsideCode) {
  const std::string md =
      "See [[A]], [[B|alias]], ![[C]] and ((6650f0a1-3c2d-4e5f-8a9b-0c1d2e3f4a5b)) #x/y "
      "`[[code]] #nope` [[D#Head]] 1#no";
  std::vector<Ref> r = FindRefs(md);
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].target, "A");
  EXPECT_EQ(r[1].target, "B");
  EXPECT_EQ(r[1].label, "alias");
  EXPECT_TRUE(r[2].embed);
  EXPECT_EQ(r[3].kind, Ref::Kind::kBlockRef);
  EXPECT_EQ(r[4].kind, Ref::Kind::kTag);
  EXPECT_EQ(r[4].target, "x/y");
  EXPECT_EQ(r[5].target, "D#Head");
  EXPECT_EQ(md.substr(r[1].begin, r[1].end - r[1].begin), "[[B|alias]]");
}

// ---- import -------------------------------------------------------------------

class MarkdownImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open(dir_.Sub("db"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }

  MarkdownImportReport Import(const fs::path& folder, MarkdownImportOptions o = {}) {
    if (o.vault_name.empty()) o.vault_name = "v";
    auto r = ImportMarkdown(*db_, folder.string(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : MarkdownImportReport{};
  }

  // The root whose title is `title`.
  Node Root(const std::string& title) {
    auto roots = db_->Roots({.include_archived = true});
    EXPECT_TRUE(roots.ok());
    for (const Node& n : *roots) {
      if (n.content == title) return n;
    }
    ADD_FAILURE() << "no root '" << title << "'";
    return {};
  }

  std::vector<Node> Kids(const std::string& id) {
    auto c = db_->Children(id, {.include_archived = true});
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : std::vector<Node>{};
  }

  nodespace::testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(MarkdownImportTest, MarkdownFolderBecomesTrees) {
  MarkdownImportReport r = Import(VaultDir("markdown"));
  EXPECT_EQ(r.flavor, MarkdownFlavor::kMarkdown);
  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.files_failed, 0u) << (r.errors.empty() ? "" : r.errors[0]);

  Node welcome = Root("Welcome to the workshop");
  EXPECT_EQ(welcome.node_type, "page");
  json p = Props(welcome);
  EXPECT_EQ(p["md"]["rating"], 4);
  EXPECT_EQ(p["md"]["draft"], false);
  EXPECT_EQ(p["import"]["path"], "Welcome.md");

  std::vector<Node> top = Kids(welcome.id);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].node_type, "text");
  EXPECT_EQ(top[0].content, "This folder holds notes about the **bicycle workshop**.");
  EXPECT_EQ(top[1].content, "# Opening hours");
  EXPECT_EQ(top[1].node_type, "header");
  std::vector<Node> hours = Kids(top[1].id);
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[1].content, "## Holidays");
  EXPECT_EQ(Kids(hours[1].id).at(0).content, "Closed in August.");

  std::vector<Node> check = Kids(top[2].id);
  std::vector<std::string> types;
  for (const Node& n : check) types.push_back(n.node_type);
  EXPECT_EQ(types,
            (std::vector<std::string>{"task", "task", "list-item", "ordered-list-item",
                                      "ordered-list-item", "code-block", "quote-block", "table"}));
  EXPECT_EQ(check[0].content, "oil the chains");
  EXPECT_EQ(Props(check[0])["task"]["status"], "open");
  EXPECT_EQ(Props(check[1])["task"]["status"], "done");
  std::vector<Node> parts = Kids(check[2].id);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(Kids(parts[1].id).at(0).content, "700x25");
  EXPECT_EQ(Props(check[5])["code-block"]["language"], "python");

  auto in_projects = db_->CollectionMembers("projects");
  ASSERT_TRUE(in_projects.ok());
  ASSERT_EQ(in_projects->size(), 1u);
  EXPECT_EQ((*in_projects)[0].content, "Wheel truing");
  EXPECT_EQ(db_->CollectionMembers("workshop:tools")->size(), 1u);

  auto daily = db_->Get("2024-03-05");
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(daily->node_type, "date");
  EXPECT_EQ(Kids("2024-03-05").at(0).content, "Trued two wheels today.");
}

TEST_F(MarkdownImportTest, ObsidianLinksResolveAndTagsCollect) {
  MarkdownImportReport r = Import(VaultDir("obsidian"));
  EXPECT_EQ(r.flavor, MarkdownFlavor::kObsidian);
  EXPECT_EQ(r.files, 4u);
  ASSERT_EQ(r.unresolved.size(), 1u);
  EXPECT_EQ(r.unresolved[0], "Home.md: [[Missing Note]]");

  Node home = Root("Home");
  Node recipes = Root("Recipes");
  Node garden = Root("Garden");
  EXPECT_EQ(Props(home)["md"]["aliases"], json::array({"Start"}));
  std::vector<Node> kids = Kids(home.id);
  EXPECT_EQ(kids[0].content, "My kitchen notebook. See [[" + recipes.id + "|Recipes]] and [[" +
                                 recipes.id + "|Recipes|the cookbook page]].");
  auto back = db_->Backlinks(recipes.id);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);  // Home's paragraph and the daily note (through the alias)
  auto garden_back = db_->Backlinks(garden.id);
  ASSERT_TRUE(garden_back.ok());
  EXPECT_EQ(garden_back->size(), 1u);  // the embed ![[Garden]]
  // [[Garden#Tools]] names the heading's own node.
  const Node tools = Kids(garden.id).at(1);
  ASSERT_EQ(tools.content, "## Tools");
  auto tools_back = db_->Backlinks(tools.id);
  ASSERT_TRUE(tools_back.ok());
  ASSERT_EQ(tools_back->size(), 1u);
  EXPECT_NE((*tools_back)[0].content.find("[[" + tools.id + "|Garden#Tools]]"), std::string::npos);
  EXPECT_EQ(db_->CollectionMembers("garden:herbs")->size(), 1u);
  EXPECT_EQ(db_->CollectionMembers("cooking:italian")->size(), 1u);
  EXPECT_EQ(db_->CollectionMembers("kitchen")->size(), 1u);
  auto unresolved = db_->CollectionMembers("import:unresolved");
  ASSERT_TRUE(unresolved.ok());
  ASSERT_EQ(unresolved->size(), 1u);
  EXPECT_EQ(Props((*unresolved)[0])["import"]["unresolved"], json::array({"Missing Note"}));
  EXPECT_TRUE(db_->Get("2024-05-01").ok());

  // The missing note arrives later: the old link resolves at the next import.
  nodespace::testing::TempDir more;
  fs::copy(VaultDir("obsidian"), more.path(), fs::copy_options::recursive);
  WriteFile(fs::path(more.path()) / "Missing Note.md", "Here now.\n");
  MarkdownImportReport r2 = Import(more.path());
  EXPECT_TRUE(r2.unresolved.empty());
  EXPECT_EQ(db_->CollectionMembers("import:unresolved")->size(), 0u);
  EXPECT_EQ(db_->Backlinks(Root("Missing Note").id)->size(), 1u);
}

TEST_F(MarkdownImportTest, LogseqBulletsPropertiesTasksAndIds) {
  MarkdownImportReport r = Import(VaultDir("logseq"));
  EXPECT_EQ(r.flavor, MarkdownFlavor::kLogseq);
  EXPECT_EQ(r.files, 3u);
  EXPECT_TRUE(r.unresolved.empty()) << r.unresolved[0];

  Node list = Root("Reading List");
  EXPECT_EQ(Props(list)["md"]["alias"], json::array({"books"}));
  std::vector<Node> top = Kids(list.id);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[1].node_type, "header");
  std::vector<Node> books = Kids(top[0].id);
  ASSERT_EQ(books.size(), 3u);
  EXPECT_EQ(books[0].node_type, "task");
  EXPECT_EQ(books[0].content, "The Long Walk");
  EXPECT_EQ(Props(books[0])["md"]["author"], "Jane Roe");
  EXPECT_EQ(Props(books[0])["task"]["status"], "open");
  EXPECT_EQ(books[1].id, "6650f0a1-3c2d-4e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(Props(books[1])["task"]["status"], "done");
  EXPECT_EQ(Props(books[2])["task"]["marker"], "LATER");
  EXPECT_EQ(Props(Kids(top[1].id).at(1))["task"]["status"], "in_progress");

  EXPECT_EQ(Root("Books/Fiction").node_type, "page");
  // The journal's block reference and its [[books]] alias link are mentions.
  EXPECT_EQ(db_->Backlinks("6650f0a1-3c2d-4e5f-8a9b-0c1d2e3f4a5b")->size(), 1u);
  EXPECT_EQ(db_->Backlinks(list.id)->size(), 1u);
  EXPECT_EQ(Kids("2024-05-01").size(), 2u);
  EXPECT_EQ(db_->CollectionMembers("reviews")->size(), 1u);
}

TEST_F(MarkdownImportTest, ReimportIsIdempotentAndFollowsChanges) {
  nodespace::testing::TempDir vault;
  fs::copy(VaultDir("markdown"), vault.path(), fs::copy_options::recursive);
  MarkdownImportOptions o;
  o.archive_removed = true;
  Import(vault.path(), o);
  const int64_t seq = db_->LastChangeSeq();
  MarkdownImportReport again = Import(vault.path(), o);
  EXPECT_EQ(again.files_unchanged, 3u);
  EXPECT_EQ(db_->LastChangeSeq(), seq) << "an unchanged folder must write nothing";

  // A changed file updates its nodes in place; the other files stay as they are.
  Node wheel = Root("Wheel truing");
  Node welcome = Root("Welcome to the workshop");
  const std::string old_first = Kids(wheel.id).at(0).id;
  WriteFile(fs::path(vault.path()) / "projects" / "Wheel truing.md",
            "# Wheel truing\n\nSpin the wheel slowly.\n\n- tighten the spoke on the near side\n");
  MarkdownImportReport changed = Import(vault.path(), o);
  EXPECT_EQ(changed.files_unchanged, 2u);
  EXPECT_EQ(changed.nodes_deleted, 1u);
  std::vector<Node> header_kids = Kids(Kids(wheel.id).at(0).id);
  ASSERT_EQ(header_kids.size(), 2u);
  EXPECT_EQ(header_kids[0].content, "Spin the wheel slowly.");
  EXPECT_EQ(header_kids[0].version, 2);
  EXPECT_EQ(Kids(wheel.id).at(0).id, old_first);
  EXPECT_EQ(Root("Welcome to the workshop").version, welcome.version);
  const int64_t seq2 = db_->LastChangeSeq();
  Import(vault.path(), o);
  EXPECT_EQ(db_->LastChangeSeq(), seq2);

  // A removed file's nodes are archived, and come back with the file.
  fs::remove(fs::path(vault.path()) / "projects" / "Wheel truing.md");
  MarkdownImportReport removed = Import(vault.path(), o);
  EXPECT_EQ(removed.roots_archived, 1u);
  EXPECT_EQ(Root("Wheel truing").lifecycle, Lifecycle::kArchived);
  WriteFile(fs::path(vault.path()) / "projects" / "Wheel truing.md", "Back again.\n");
  Import(vault.path(), o);
  EXPECT_EQ(Root("Wheel truing").lifecycle, Lifecycle::kActive);
}

TEST_F(MarkdownImportTest, RemovedTagsLeaveTheirCollectionsAndOwnOnesStay) {
  nodespace::testing::TempDir vault;
  const fs::path note = fs::path(vault.path()) / "Plants.md";
  WriteFile(fs::path(vault.path()) / ".obsidian" / "app.json", "{}");
  WriteFile(note, "# Plants\n\nFerns like it #green #shade\n");
  Import(vault.path());
  ASSERT_OK_AND_ASSIGN(std::vector<Node> shade, db_->CollectionMembers("shade"));
  ASSERT_EQ(shade.size(), 1u);
  const std::string id = shade[0].id;
  ASSERT_TRUE(db_->AddToCollection(id, "mine").ok());  // added in NodeSpace

  WriteFile(note, "# Plants\n\nFerns like it #green\n");
  Import(vault.path());
  EXPECT_EQ(db_->CollectionsOf(id).value(), (std::vector<std::string>{"green", "mine"}));
  EXPECT_EQ(db_->CollectionMembers("shade")->size(), 0u);

  // A tag that comes back brings its membership back.
  WriteFile(note, "# Plants\n\nFerns like it #green #shade\n");
  Import(vault.path());
  EXPECT_EQ(db_->CollectionsOf(id).value(), (std::vector<std::string>{"green", "mine", "shade"}));
}

TEST_F(MarkdownImportTest, HeadingLinksNameTheHeadingInThisOrAnotherFile) {
  nodespace::testing::TempDir vault;
  WriteFile(fs::path(vault.path()) / ".obsidian" / "app.json", "{}");
  WriteFile(fs::path(vault.path()) / "A.md",
            "Jump to [[#Later Part]] or [[B#setup]] or [[B#No Such Heading]].\n\n## Later "
            "Part\n\ntext\n");
  WriteFile(fs::path(vault.path()) / "B.md", "# Setup\n\nsteps\n");
  MarkdownImportReport r = Import(vault.path());
  EXPECT_EQ(r.links_resolved, 3u);
  const Node a = Root("A");
  const Node b = Root("B");
  const std::vector<Node> a_kids = Kids(a.id);
  ASSERT_EQ(a_kids.size(), 2u);
  const std::string later = a_kids[1].id;
  const std::string setup = Kids(b.id).at(0).id;
  EXPECT_EQ(a_kids[0].content, "Jump to [[" + later + "|#Later Part]] or [[" + setup +
                                   "|B#setup]] or [[" + b.id + "|B#No Such Heading]].");
}

TEST(DialectTest, LinkedDates) {
  EXPECT_EQ(LinkedDate("Nov 29th, 2026"), "2026-11-29");
  EXPECT_EQ(LinkedDate("May 1st, 2024"), "2024-05-01");
  EXPECT_EQ(LinkedDate("september 2, 2025"), "2025-09-02");
  EXPECT_EQ(LinkedDate("2024_05_01"), "2024-05-01");
  EXPECT_EQ(LinkedDate("2024-05-01"), "2024-05-01");
  EXPECT_EQ(LinkedDate("Feb 30th, 2024"), "");
  EXPECT_EQ(LinkedDate("Books"), "");
  EXPECT_EQ(LinkedDate("Nov 29th 2026"), "");
  EXPECT_EQ(LinkedDate("Nov 29th, 26"), "");
}

TEST_F(MarkdownImportTest, LogseqDateLinksNameTheJournalDay) {
  nodespace::testing::TempDir graph;
  const fs::path g(graph.path());
  WriteFile(g / "logseq" / "config.edn", "{}");
  WriteFile(g / "journals" / "2024_05_01.md", "- a quiet day\n");
  WriteFile(g / "pages" / "Plans.md",
            "- started on [[May 1st, 2024]], review on [[Jun 3rd, 2024]]\n");
  MarkdownImportReport r = Import(graph.path());
  ASSERT_EQ(r.unresolved.size(), 1u);  // no journal for June 3rd yet
  auto back = db_->Backlinks("2024-05-01");
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_NE((*back)[0].content.find("[[2024-05-01|May 1st, 2024]]"), std::string::npos);

  // The missing day's journal arrives: the waiting link resolves.
  WriteFile(g / "journals" / "2024_06_03.md", "- review\n");
  r = Import(graph.path());
  EXPECT_TRUE(r.unresolved.empty());
  EXPECT_EQ(db_->Backlinks("2024-06-03")->size(), 1u);
  EXPECT_EQ(db_->CollectionMembers("import:unresolved")->size(), 0u);
}

TEST_F(MarkdownImportTest, BrokenFilesAreReportedAndTheRestImports) {
  nodespace::testing::TempDir vault;
  WriteFile(fs::path(vault.path()) / "good.md", "fine\n");
  WriteFile(fs::path(vault.path()) / "bad-utf8.md", std::string("caf\xC3(\n", 6));
  WriteFile(fs::path(vault.path()) / "bad-yaml.md", "---\ntags: [a, b\ntitle: x\n---\nbody\n");
  WriteFile(fs::path(vault.path()) / "binary.md", std::string("PK\0\3abc", 7));
  std::vector<std::string> errors;
  MarkdownImportOptions o;
  o.on_error = [&](const std::string& m) { errors.push_back(m); };
  MarkdownImportReport r = Import(vault.path(), o);
  EXPECT_EQ(r.files, 4u);
  EXPECT_EQ(r.files_failed, 3u);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], "bad-utf8.md: invalid UTF-8 at byte 3");
  EXPECT_EQ(errors[1].rfind("bad-yaml.md: malformed front matter: line ", 0), 0u) << errors[1];
  EXPECT_EQ(errors[2], "binary.md: binary file (NUL bytes)");
  EXPECT_EQ(Kids(Root("good").id).at(0).content, "fine");
}

TEST_F(MarkdownImportTest, SymlinksOutsideTheFolderAreNotFollowed) {
  nodespace::testing::TempDir outside;
  nodespace::testing::TempDir vault;
  WriteFile(fs::path(outside.path()) / "secret.md", "do not import me\n");
  fs::create_directories(fs::path(outside.path()) / "dir");
  WriteFile(fs::path(outside.path()) / "dir" / "also.md", "nor me\n");
  WriteFile(fs::path(vault.path()) / "inside.md", "hello\n");
  fs::create_symlink(fs::path(outside.path()) / "secret.md", fs::path(vault.path()) / "link.md");
  fs::create_directory_symlink(fs::path(outside.path()) / "dir", fs::path(vault.path()) / "sub");
  fs::create_symlink(fs::path(vault.path()) / "inside.md", fs::path(vault.path()) / "same.md");
  std::vector<std::string> errors;
  MarkdownImportOptions o;
  o.on_error = [&](const std::string& m) { errors.push_back(m); };
  MarkdownImportReport r = Import(vault.path(), o);
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "link.md: symbolic link leads outside the folder; not followed");
  EXPECT_EQ(errors[1], "sub: symbolic link leads outside the folder; not followed");
  auto roots = db_->Roots();
  ASSERT_TRUE(roots.ok());
  for (const Node& n : *roots) {
    EXPECT_NE(n.content, "link");
    EXPECT_NE(n.content, "also");
  }
  EXPECT_EQ(r.files, 2u);  // inside.md and same.md (a link inside the folder)
}

// ---- export -------------------------------------------------------------------

// A database's content in comparable form: per root (by title) the tree of
// (type, content, properties without import bookkeeping, collections, mentions).
std::map<std::string, std::string> Dump(const Database& db) {
  std::map<std::string, std::string> out;
  auto roots = db.Roots();
  for (const Node& root : *roots) {
    if (root.node_type == "collection") continue;
    std::string text;
    Status st = db.VisitSubtree(root.id, {}, [&](const Node& n, int depth) {
      json p = json::parse(n.properties);
      if (p.contains("import")) {
        p["import"].erase("hash");
        p["import"].erase("path");
        p["import"].erase("flavor");
        p["import"].erase("vault");
        if (p["import"].empty()) p.erase("import");
      }
      auto colls = db.CollectionsOf(n.id);
      auto mentions = db.Edges(n.id, true, kEdgeMentions);
      std::string m;
      for (const Edge& e : *mentions) m += e.to_id + " ";
      text += std::string(static_cast<size_t>(depth) * 2, ' ') + n.id + " [" + n.node_type + "] " +
              n.content + " " + p.dump() + " {" + json(*colls).dump() + "} -> " + m + "\n";
      return true;
    });
    EXPECT_TRUE(st.ok());
    out[root.content] = text;
  }
  return out;
}

class MarkdownRoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MarkdownRoundTripTest, ExportReimportsToTheSameTree) {
  nodespace::testing::TempDir dir;
  auto a = Database::Open(dir.Sub("a"));
  auto b = Database::Open(dir.Sub("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  MarkdownImportOptions o;
  o.vault_name = "rt";
  ASSERT_TRUE(ImportMarkdown(**a, VaultDir(GetParam()).string(), o).ok());
  auto exported = ExportMarkdown(**a, dir.Sub("out"), {});
  ASSERT_TRUE(exported.ok()) << exported.status().ToString();
  auto stats = (*a)->Stats();
  o.flavor = GetParam() == "logseq"     ? MarkdownFlavor::kLogseq
             : GetParam() == "obsidian" ? MarkdownFlavor::kObsidian
                                        : MarkdownFlavor::kMarkdown;
  auto r = ImportMarkdown(**b, dir.Sub("out"), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_failed, 0u);
  EXPECT_EQ((*b)->Stats()->node_count, stats->node_count);
  EXPECT_EQ((*b)->Stats()->stored_edge_count, stats->stored_edge_count);
  std::map<std::string, std::string> da = Dump(**a), db = Dump(**b);
  ASSERT_EQ(da.size(), db.size());
  for (const auto& [title, text] : da) EXPECT_EQ(db[title], text) << "root " << title;
}

INSTANTIATE_TEST_SUITE_P(Flavors, MarkdownRoundTripTest,
                         ::testing::Values("markdown", "obsidian", "logseq"));

TEST(MarkdownExportTest, BreaksListStartsAndTaskStatesRoundTrip) {
  nodespace::testing::TempDir dir;
  const std::string text =
      "# Checklist\n\n3. third step\n4. fourth step\n\n---\n\n- [-] dropped idea\n"
      "- [/] underway\n- [x] finished\n- [ ] to do\n\n***\n\nthe end\n";
  WriteFile(fs::path(dir.Sub("in")) / "Checklist.md", text);
  auto a = Database::Open(dir.Sub("a"));
  auto b = Database::Open(dir.Sub("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  MarkdownImportOptions o;
  o.vault_name = "rt";
  o.flavor = MarkdownFlavor::kMarkdown;
  ASSERT_TRUE(ImportMarkdown(**a, dir.Sub("in"), o).ok());

  std::vector<std::string> kinds;
  std::string root;
  ASSERT_OK_AND_ASSIGN(std::vector<Node> roots, (*a)->Roots());
  for (const Node& r : roots) {
    if (r.node_type == "page") root = r.id;
  }
  ASSERT_TRUE((*a)->VisitSubtree(root, {},
                                 [&](const Node& n, int depth) {
                                   if (depth == 0) return true;
                                   std::string k = n.node_type;
                                   const json p = json::parse(n.properties);
                                   if (p.contains("task"))
                                     k += ":" + p["task"]["status"].get<std::string>();
                                   if (p.contains("list"))
                                     k += ":start=" + p["list"]["start"].dump();
                                   kinds.push_back(k);
                                   return true;
                                 })
                  .ok());
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"header", "ordered-list-item:start=3", "ordered-list-item",
                                      "thematic-break", "task:cancelled", "task:in_progress",
                                      "task:done", "task:open", "thematic-break", "text"}));

  ASSERT_TRUE(ExportMarkdown(**a, dir.Sub("out"), {}).ok());
  std::ifstream in(fs::path(dir.Sub("out")) / "Checklist.md");
  std::stringstream exported;
  exported << in.rdbuf();
  EXPECT_EQ(exported.str(), text);
  ASSERT_TRUE(ImportMarkdown(**b, dir.Sub("out"), o).ok());
  EXPECT_EQ(Dump(**a), Dump(**b));
}

TEST(MarkdownExportTest, LogseqCodeBulletsAreCodeBlocksBothWays) {
  nodespace::testing::TempDir dir;
  const fs::path graph = dir.Sub("g");
  WriteFile(graph / "logseq" / "config.edn", "{}");
  WriteFile(graph / "pages" / "Code.md",
            "- intro\n- ```js\n  let x = 1;\n  ```\n- ```\n  plain\n  ```\n- after ```inline```\n");
  auto a = Database::Open(dir.Sub("a"));
  auto b = Database::Open(dir.Sub("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  MarkdownImportOptions o;
  o.vault_name = "rt";
  ASSERT_TRUE(ImportMarkdown(**a, graph.string(), o).ok());
  ASSERT_OK_AND_ASSIGN(std::vector<Node> roots, (*a)->Roots());
  std::string page;
  for (const Node& r : roots) {
    if (r.node_type == "page") page = r.id;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Node> kids, (*a)->Children(page));
  ASSERT_EQ(kids.size(), 4u);
  EXPECT_EQ(kids[0].node_type, "text");
  EXPECT_EQ(kids[1].node_type, "code-block");
  EXPECT_EQ(kids[1].content, "```js\nlet x = 1;\n```");
  EXPECT_EQ(json::parse(kids[1].properties)["code-block"]["language"], "js");
  EXPECT_EQ(kids[2].node_type, "code-block");
  EXPECT_FALSE(json::parse(kids[2].properties).contains("code-block"));
  EXPECT_EQ(kids[3].node_type, "text");

  ASSERT_TRUE(ExportMarkdown(**a, dir.Sub("out"), {}).ok());
  o.flavor = MarkdownFlavor::kLogseq;
  ASSERT_TRUE(ImportMarkdown(**b, dir.Sub("out"), o).ok());
  EXPECT_EQ(Dump(**a), Dump(**b));
}

TEST_F(MarkdownImportTest, ExportWithIdsRefusesStaleEdits) {
  Import(VaultDir("markdown"));
  Node wheel = Root("Wheel truing");
  nodespace::testing::TempDir out;
  MarkdownExportOptions eo;
  eo.root_id = wheel.id;
  eo.with_ids = true;
  ASSERT_TRUE(ExportMarkdown(*db_, out.path(), eo).ok());
  const fs::path file = fs::path(out.path()) / "projects" / "Wheel truing.md";
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(text.find("<!-- ns:"), std::string::npos) << text;

  // Someone edits a block in NodeSpace; the exported file still names version 1.
  const Node para = Kids(Kids(wheel.id).at(0).id).at(0);
  ASSERT_TRUE(db_->Update(para.id, {.content = std::string("edited in the app")}).ok());
  const size_t at = text.find("Spin the wheel");
  text.replace(at, 14, "Turn the wheel");
  WriteFile(file, text);
  std::vector<std::string> errors;
  MarkdownImportOptions o;
  o.on_error = [&](const std::string& m) { errors.push_back(m); };
  Import(out.path(), o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("projects/Wheel truing.md: "), std::string::npos) << errors[0];
  EXPECT_EQ(db_->Get(para.id)->content, "edited in the app");
}

}  // namespace
}  // namespace nodespace::markdown
