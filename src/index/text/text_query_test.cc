#include "index/text/text_query.h"

#include <gtest/gtest.h>

#include <string>

namespace nodespace::text {
namespace {

std::string Fts(const std::string& q) {
  Result<ParsedQuery> p = ParseTextQuery(q);
  EXPECT_TRUE(p.ok()) << q << ": " << p.status().ToString();
  return p.ok() ? p->fts : "";
}

Status Error(const std::string& q) {
  Result<ParsedQuery> p = ParseTextQuery(q);
  EXPECT_FALSE(p.ok()) << q << " parsed as " << (p.ok() ? p->fts : "");
  return p.ok() ? Status::OK() : p.status();
}

TEST(TextQuery, WordsAreQuotedAndJoinedWithAnd) {
  EXPECT_EQ(Fts("login"), "\"login\"");
  EXPECT_EQ(Fts("login  flow"), "(\"login\" AND \"flow\")");
  Result<ParsedQuery> p = ParseTextQuery("login flow");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->plain);
  EXPECT_EQ(p->positive_terms, (std::vector<std::string>{"\"login\"", "\"flow\""}));
}

TEST(TextQuery, PhrasesPrefixesAndOperators) {
  EXPECT_EQ(Fts("\"login flow\" auth*"), "(\"login flow\" AND \"auth\"*)");
  EXPECT_EQ(Fts("a OR b"), "(\"a\" OR \"b\")");
  EXPECT_EQ(Fts("a AND b OR c"), "((\"a\" AND \"b\") OR \"c\")");
  EXPECT_EQ(Fts("a (b OR c)"), "(\"a\" AND (\"b\" OR \"c\"))");
  EXPECT_EQ(Fts("a NOT b"), "(\"a\" NOT \"b\")");
  EXPECT_EQ(Fts("-b a"), "(\"a\" NOT \"b\")");
  EXPECT_EQ(Fts("NOT b a c"), "(\"a\" AND \"c\" NOT \"b\")");
  EXPECT_FALSE(ParseTextQuery("a OR b")->plain);
  EXPECT_FALSE(ParseTextQuery("a -b")->plain);
  EXPECT_EQ(ParseTextQuery("a -b")->positive_terms, std::vector<std::string>{"\"a\""});
}

TEST(TextQuery, SloppyInputGetsAForgivingReading) {
  EXPECT_EQ(Fts("\"unclosed phrase"), "\"unclosed phrase\"");
  EXPECT_EQ(Fts("a OR"), "\"a\"");
  EXPECT_EQ(Fts("OR OR a"), "\"a\"");
  EXPECT_EQ(Fts("a AND AND b"), "(\"a\" AND \"b\")");
  EXPECT_EQ(Fts("(a b"), "(\"a\" AND \"b\")");
  EXPECT_EQ(Fts("a) b"), "(\"a\" AND \"b\")");
  EXPECT_EQ(Fts("a *** --"), "\"a\"");
  // Lower-case operators are plain words.
  EXPECT_EQ(Fts("and or not"), "(\"and\" AND \"or\" AND \"not\")");
}

TEST(TextQuery, Fts5SyntaxCannotBeInjected) {
  // Column filters, NEAR groups, initial-token markers and embedded quotes
  // all end up inside quoted strings.
  EXPECT_EQ(Fts("title:secret"), "\"title:secret\"");
  EXPECT_EQ(Fts("NEAR(a b)"), "(\"NEAR\" AND (\"a\" AND \"b\"))");
  EXPECT_EQ(Fts("^start"), "\"^start\"");
  EXPECT_EQ(Fts("{title content}:x"), "(\"{title\" AND \"content}:x\")");
  EXPECT_EQ(Fts("say\"\"hi"), "(\"say\" AND \"hi\")");
}

TEST(TextQuery, NothingToSearchForIsAClearError) {
  EXPECT_EQ(Error("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Error("   ").message(), "query has no words to search for");
  EXPECT_EQ(Error("AND").message(), "query has no words to search for");
  EXPECT_EQ(Error("OR NOT").message(), "query has no words to search for");
  EXPECT_EQ(Error("()").message(), "query has no words to search for");
  EXPECT_EQ(Error("\"\"").message(), "query has no words to search for");
  EXPECT_EQ(Error("NOT cat").message(),
            "query excludes words but asks for none; add a word to search for");
  EXPECT_EQ(Error("-cat -dog").code(), StatusCode::kInvalidArgument);
}

TEST(TextQuery, HugeQueriesAreRefused) {
  std::string many;
  for (int i = 0; i < 10000; ++i) many += "w" + std::to_string(i % 100) + " ";
  EXPECT_EQ(Error(many).code(), StatusCode::kInvalidArgument);
  std::string terms;
  for (size_t i = 0; i < kMaxQueryTerms + 1; ++i) terms += "t ";
  EXPECT_EQ(Error(terms).message(), "query has more than 256 terms; shorten it");
  std::string ok_terms;
  for (size_t i = 0; i < kMaxQueryTerms; ++i) ok_terms += "t ";
  EXPECT_TRUE(ParseTextQuery(ok_terms).ok());
}

}  // namespace
}  // namespace nodespace::text
