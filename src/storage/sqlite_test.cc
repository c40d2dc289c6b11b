// The SQLite wrappers: the statement cache's two ways in, and binding
// without a copy.
#include "storage/sqlite.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "test_util.h"

namespace nodespace::storage {
namespace {

std::unique_ptr<Connection> OpenMemory() {
  auto conn = Connection::Open(":memory:", /*read_only=*/false, /*create=*/true);
  EXPECT_TRUE(conn.ok()) << conn.status().ToString();
  return conn.ok() ? std::move(conn).value() : nullptr;
}

TEST(StatementCache, ALiteralAndTheSameTextAsAStringShareOneStatement) {
  auto conn = OpenMemory();
  ASSERT_TRUE(conn);
  ASSERT_OK_AND_ASSIGN(Statement * by_address, conn->Prepare("SELECT 41 + 1"));
  ASSERT_OK_AND_ASSIGN(Statement * again, conn->Prepare("SELECT 41 + 1"));
  ASSERT_OK_AND_ASSIGN(Statement * by_text, conn->Prepare(std::string("SELECT 41 + 1")));
  EXPECT_EQ(by_address, again);
  EXPECT_EQ(by_address, by_text);
}

TEST(StatementCache, ABufferReusedForOtherSqlGetsTheStatementOfItsNewText) {
  auto conn = OpenMemory();
  ASSERT_TRUE(conn);
  char buffer[64];
  std::strcpy(buffer, "SELECT 1");
  ASSERT_OK_AND_ASSIGN(Statement * one, conn->Prepare(static_cast<const char*>(buffer)));
  std::strcpy(buffer, "SELECT 2");
  ASSERT_OK_AND_ASSIGN(Statement * two, conn->Prepare(static_cast<const char*>(buffer)));
  ASSERT_NE(one, two);
  ScopedStatement s(*two);
  ASSERT_OK_AND_ASSIGN(bool row, s->Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(s->ColumnInt(0), 2);
}

TEST(StatementBind, UncopiedTextAndBlobsAreStoredAsBound) {
  auto conn = OpenMemory();
  ASSERT_TRUE(conn);
  ASSERT_OK(conn->Exec("CREATE TABLE t(a TEXT, b BLOB)"));
  ASSERT_OK_AND_ASSIGN(Statement * insert, conn->Prepare("INSERT INTO t(a, b) VALUES (?1, ?2)"));
  for (int i = 0; i < 3; ++i) {
    const std::string text = "row " + std::to_string(i) + std::string(100, 'x');
    const float blob[2] = {static_cast<float>(i), 0.5f};
    ASSERT_OK(insert->BindUncopied(1, text).BindBlobUncopied(2, blob, sizeof(blob)).Run());
  }
  ASSERT_OK_AND_ASSIGN(Statement * read, conn->Prepare("SELECT a, b FROM t ORDER BY rowid"));
  ScopedStatement s(*read);
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(bool row, s->Step());
    ASSERT_TRUE(row);
    EXPECT_EQ(s->ColumnString(0), "row " + std::to_string(i) + std::string(100, 'x'));
    ASSERT_EQ(s->ColumnBytes(1), static_cast<int>(2 * sizeof(float)));
    float blob[2];
    std::memcpy(blob, s->ColumnBlob(1), sizeof(blob));
    EXPECT_EQ(blob[0], static_cast<float>(i));
    EXPECT_EQ(blob[1], 0.5f);
  }
}

}  // namespace
}  // namespace nodespace::storage
