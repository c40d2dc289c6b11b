#include "embed/text_analyzer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nodespace::embed {
namespace {

using Words = std::vector<std::string>;

TEST(TextAnalyzerSplit, LowerCasesAndSplitsOnNonAlphanumerics) {
  EXPECT_EQ(SplitWords("Hello, World! foo_bar 42x (v2.0)"),
            (Words{"hello", "world", "foo", "bar", "42x", "v2", "0"}));
  EXPECT_EQ(SplitWords(""), Words{});
  EXPECT_EQ(SplitWords(" \t\n--;"), Words{});
}

TEST(TextAnalyzerSplit, FoldsLatinDiacritics) {
  EXPECT_EQ(SplitWords("Café MÜLLER Straße"), (Words{"cafe", "muller", "strasse"}));
  EXPECT_EQ(SplitWords("Œuvre Ĳssel Łódź Ærø þorn Ÿ ſ"),
            (Words{"oeuvre", "ijssel", "lodz", "aero", "thorn", "y", "s"}));
  EXPECT_EQ(SplitWords("naïve façade señor"), (Words{"naive", "facade", "senor"}));
  // A decomposed accent (e + U+0301) reads like the precomposed one.
  EXPECT_EQ(SplitWords("e\xCC\x81te"), Words{"ete"});
}

TEST(TextAnalyzerSplit, UnicodePunctuationSeparates) {
  EXPECT_EQ(SplitWords("em\xE2\x80\x94"
                       "dash \xE2\x80\x9Cquoted\xE2\x80\x9D 3\xC3\x97"
                       "4 a\xC2\xA0"
                       "b"),
            (Words{"em", "dash", "quoted", "3", "4", "a", "b"}));
  EXPECT_EQ(SplitWords("ok\xF0\x9F\x98\x80"
                       "go"),
            (Words{"ok", "go"}));  // emoji
}

TEST(TextAnalyzerSplit, OtherScriptsAreKeptAsWords) {
  EXPECT_EQ(SplitWords("Привет, мир"), (Words{"Привет", "мир"}));
  EXPECT_EQ(SplitWords("日本語\xE3\x80\x82テスト"), (Words{"日本語", "テスト"}));
}

TEST(TextAnalyzerSplit, InvalidUtf8SeparatesWords) {
  EXPECT_EQ(SplitWords("ab\xFF"
                       "cd"),
            (Words{"ab", "cd"}));
  EXPECT_EQ(SplitWords("ab\xC0\xAF"
                       "cd"),
            (Words{"ab", "cd"}));  // overlong '/'
  EXPECT_EQ(SplitWords("ab\xED\xA0\x80"
                       "cd"),
            (Words{"ab", "cd"}));                // surrogate
  EXPECT_EQ(SplitWords("ab\xC3"), Words{"ab"});  // truncated é
}

TEST(TextAnalyzerSplit, DropsOverlongWords) {
  std::string long_word(kMaxWordBytes + 1, 'x');
  EXPECT_EQ(SplitWords("keep " + long_word + " this"), (Words{"keep", "this"}));
  EXPECT_EQ(SplitWords(std::string(kMaxWordBytes, 'y')).size(), 1u);
}

TEST(TextAnalyzerStopWords, KnowsCommonFunctionWords) {
  for (const char* w : {"the", "a", "and", "of", "to", "is", "you", "yourselves", "t", "s"}) {
    EXPECT_TRUE(IsStopWord(w)) << w;
  }
  for (const char* w : {"login", "cooking", "", "The", "network"}) {
    EXPECT_FALSE(IsStopWord(w)) << w;
  }
}

TEST(TextAnalyzer, StemsAndDropsStopWords) {
  auto analyzer = TextAnalyzer::Create();
  ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
  EXPECT_EQ((*analyzer)->Analyze("The users are handling their logins"),
            (Words{"user", "handl", "login"}));
  // Inflections meet in one stem, so a query matches notes that word it
  // differently.
  EXPECT_EQ((*analyzer)->Analyze("handled"), (*analyzer)->Analyze("Handling"));
  EXPECT_EQ((*analyzer)->Analyze("Gardens"), (*analyzer)->Analyze("garden"));
  EXPECT_EQ((*analyzer)->Analyze("don't stop"), Words{"stop"});
  EXPECT_EQ((*analyzer)->Analyze("the of and"), Words{});
}

TEST(TextAnalyzer, AppendsToExistingTerms) {
  auto analyzer = TextAnalyzer::Create();
  ASSERT_TRUE(analyzer.ok());
  Words terms = {"first"};
  (*analyzer)->Analyze("second", &terms);
  EXPECT_EQ(terms, (Words{"first", "second"}));
}

}  // namespace
}  // namespace nodespace::embed
