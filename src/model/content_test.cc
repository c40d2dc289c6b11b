#include "model/content.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nodespace::content {
namespace {

using Ids = std::vector<std::string>;

// The offset IsValidUtf8 reports, or -1 when the text is valid.
long BadOffset(std::string_view text) {
  size_t at = 9999;
  if (IsValidUtf8(text, &at)) return -1;
  return static_cast<long>(at);
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_EQ(BadOffset(""), -1);
  EXPECT_EQ(BadOffset("plain ascii"), -1);
  EXPECT_EQ(BadOffset(std::string("nul\0inside", 10)), -1);  // U+0000 is well-formed
  EXPECT_EQ(BadOffset("h\xC3\xA9llo"), -1);                  // é
  EXPECT_EQ(BadOffset("\xC2\x80"), -1);                      // U+0080, smallest 2-byte
  EXPECT_EQ(BadOffset("\xDF\xBF"), -1);                      // U+07FF
  EXPECT_EQ(BadOffset("\xE0\xA0\x80"), -1);                  // U+0800, smallest 3-byte
  EXPECT_EQ(BadOffset("\xED\x9F\xBF"), -1);                  // U+D7FF, below the surrogates
  EXPECT_EQ(BadOffset("\xEE\x80\x80"), -1);                  // U+E000, above them
  EXPECT_EQ(BadOffset("\xEF\xBF\xBF"), -1);                  // U+FFFF
  EXPECT_EQ(BadOffset("\xF0\x90\x80\x80"), -1);              // U+10000, smallest 4-byte
  EXPECT_EQ(BadOffset("\xF0\x9F\x98\x80"), -1);              // 😀
  EXPECT_EQ(BadOffset("\xF4\x8F\xBF\xBF"), -1);              // U+10FFFF, the largest
  EXPECT_TRUE(IsValidUtf8("no offset pointer"));
}

// Long text goes through the vectorised check in blocks: every bad
// sequence is found wherever it falls in a block, including across two.
TEST(Utf8, FindsABadSequenceAnywhereInLongText) {
  std::string good;
  while (good.size() < 300) good += "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 ";
  EXPECT_EQ(BadOffset(good), -1);
  for (const std::string bad :
       {std::string("\xC0\x80"), std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"),
        std::string("\x80"), std::string("\xE2\x82"), std::string("\xFF")}) {
    for (size_t at : {0u, 1u, 31u, 62u, 63u, 64u, 127u, 200u}) {
      // Cut the good text at a character boundary at or before `at`.
      size_t cut = at;
      while (cut > 0 && (static_cast<unsigned char>(good[cut]) & 0xC0) == 0x80) --cut;
      const std::string text = good.substr(0, cut) + bad + good.substr(cut);
      EXPECT_EQ(BadOffset(text), static_cast<long>(cut)) << "at " << at;
    }
  }
}

TEST(Utf8, RejectsOverlongs) {
  EXPECT_EQ(BadOffset("\xC0\x80"), 0);          // U+0000 in two bytes
  EXPECT_EQ(BadOffset("\xC1\xBF"), 0);          // U+007F in two bytes
  EXPECT_EQ(BadOffset("\xE0\x80\x80"), 0);      // U+0000 in three bytes
  EXPECT_EQ(BadOffset("\xE0\x9F\xBF"), 0);      // U+07FF in three bytes
  EXPECT_EQ(BadOffset("\xF0\x80\x80\x80"), 0);  // U+0000 in four bytes
  EXPECT_EQ(BadOffset("\xF0\x8F\xBF\xBF"), 0);  // U+FFFF in four bytes
  EXPECT_EQ(BadOffset("ok \xC0\xAF"), 3);       // overlong '/'
}

TEST(Utf8, RejectsSurrogates) {
  EXPECT_EQ(BadOffset("\xED\xA0\x80"), 0);                // U+D800
  EXPECT_EQ(BadOffset("\xED\xB0\x80"), 0);                // U+DC00
  EXPECT_EQ(BadOffset("\xED\xBF\xBF"), 0);                // U+DFFF
  EXPECT_EQ(BadOffset("ab\xED\xA0\xBD\xED\xB8\x80"), 2);  // a CESU-8 surrogate pair
}

TEST(Utf8, RejectsCodePointsPastU10FFFF) {
  EXPECT_EQ(BadOffset("\xF4\x90\x80\x80"), 0);  // U+110000
  EXPECT_EQ(BadOffset("\xF5\x80\x80\x80"), 0);
  EXPECT_EQ(BadOffset("\xF7\xBF\xBF\xBF"), 0);
  EXPECT_EQ(BadOffset("\xF8\x88\x80\x80\x80"), 0);  // old five-byte form
  EXPECT_EQ(BadOffset("\xFC\x84\x80\x80\x80\x80"), 0);
  EXPECT_EQ(BadOffset("\xFE"), 0);
  EXPECT_EQ(BadOffset("x\xFF"), 1);
}

TEST(Utf8, RejectsTruncatedSequences) {
  EXPECT_EQ(BadOffset("ab\xC3"), 2);
  EXPECT_EQ(BadOffset("ab\xE2\x82"), 2);
  EXPECT_EQ(BadOffset("\xF0\x9F\x98"), 0);
  EXPECT_EQ(BadOffset("\xF0"), 0);
  // Cut short by a following ASCII byte rather than by the end.
  EXPECT_EQ(BadOffset("\xC3(x"), 0);
  EXPECT_EQ(BadOffset("\xE2\x28\xA1"), 0);
  EXPECT_EQ(BadOffset("\xF0\x9F\x98z"), 0);
}

TEST(Utf8, RejectsStrayContinuationBytes) {
  EXPECT_EQ(BadOffset("\x80"), 0);
  EXPECT_EQ(BadOffset("a\xBF"), 1);
  EXPECT_EQ(BadOffset("\xC3\xA9\xA9"), 2);
}

TEST(Utf8, ErrorOffsetIsTheFirstBadByte) {
  EXPECT_EQ(BadOffset("h\xC3\xA9\xFF"), 3);
  EXPECT_EQ(BadOffset("\xF0\x9F\x98\x80 ok \xED\xA0\x80 \xFF"), 8);
  const std::string long_prefix(1000, 'a');
  EXPECT_EQ(BadOffset(long_prefix + "\xC0\x80"), 1000);
}

TEST(DeriveTitle, FirstNonEmptyLine) {
  EXPECT_EQ(DeriveTitle("Hello world"), "Hello world");
  EXPECT_EQ(DeriveTitle("First\nSecond"), "First");
  EXPECT_EQ(DeriveTitle("\n\n  \n\t\nFirst line\nSecond"), "First line");
  EXPECT_EQ(DeriveTitle("  padded  \n"), "padded");
  EXPECT_EQ(DeriveTitle("Windows\r\nline"), "Windows");
  EXPECT_EQ(DeriveTitle(""), "");
  EXPECT_EQ(DeriveTitle("   \n\t\n"), "");
}

TEST(DeriveTitle, StripsHeadings) {
  EXPECT_EQ(DeriveTitle("# Ideas"), "Ideas");
  EXPECT_EQ(DeriveTitle("### Deep heading  \nbody"), "Deep heading");
  EXPECT_EQ(DeriveTitle("###### Six"), "Six");
  EXPECT_EQ(DeriveTitle("\n# After a blank line"), "After a blank line");
}

TEST(DeriveTitle, StripsBulletsQuotesAndTaskBoxes) {
  EXPECT_EQ(DeriveTitle("- bullet"), "bullet");
  EXPECT_EQ(DeriveTitle("* star"), "star");
  EXPECT_EQ(DeriveTitle("+ plus"), "plus");
  EXPECT_EQ(DeriveTitle("> quoted"), "quoted");
  EXPECT_EQ(DeriveTitle("- [ ] call Ana"), "call Ana");
  EXPECT_EQ(DeriveTitle("- [x] done thing"), "done thing");
  EXPECT_EQ(DeriveTitle("* [X] upper X"), "upper X");
  EXPECT_EQ(DeriveTitle("[ ] bare box"), "bare box");
  EXPECT_EQ(DeriveTitle("  -   spaced bullet  "), "spaced bullet");
  // Not markers.
  EXPECT_EQ(DeriveTitle("-dash"), "-dash");
  EXPECT_EQ(DeriveTitle("[link](x)"), "[link](x)");
  EXPECT_EQ(DeriveTitle("[y] not a box"), "[y] not a box");
}

TEST(DeriveTitle, CutsAt200BytesOnACharacterBoundary) {
  EXPECT_EQ(DeriveTitle(std::string(250, 'a')), std::string(200, 'a'));
  EXPECT_EQ(DeriveTitle(std::string(200, 'b')), std::string(200, 'b'));
  EXPECT_EQ(DeriveTitle("# " + std::string(300, 'c')), std::string(200, 'c'));

  std::string e_acute;
  for (int i = 0; i < 150; ++i) e_acute += "\xC3\xA9";  // 300 bytes
  EXPECT_EQ(DeriveTitle(e_acute), e_acute.substr(0, 200));
  // Shifted by one byte, byte 200 falls inside a character: cut before it.
  const std::string shifted = DeriveTitle("a" + e_acute);
  EXPECT_EQ(shifted.size(), 199u);
  EXPECT_TRUE(IsValidUtf8(shifted));

  std::string emoji;
  for (int i = 0; i < 60; ++i) emoji += "\xF0\x9F\x98\x80";  // 240 bytes
  for (const std::string& prefix :
       {std::string(), std::string("a"), std::string("ab"), std::string("abc")}) {
    const std::string title = DeriveTitle(prefix + emoji);
    EXPECT_LE(title.size(), 200u);
    EXPECT_GE(title.size(), 197u);
    EXPECT_TRUE(IsValidUtf8(title)) << "prefix of " << prefix.size();
    EXPECT_EQ(title, (prefix + emoji).substr(0, title.size()));
  }
}

TEST(Mentions, WikiLinks) {
  EXPECT_EQ(ExtractMentions("see [[abc]]"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("see [[abc|The ABC note]]"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("[[ abc ]]"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("[[a]][[b]]"), Ids({"a", "b"}));
  EXPECT_EQ(ExtractMentions("[[2024-05-01]]"), Ids({"2024-05-01"}));
  EXPECT_EQ(ExtractMentions("[[caf\xC3\xA9]]"), Ids({"caf\xC3\xA9"}));
  EXPECT_EQ(ExtractMentions("[[]]"), Ids());
  EXPECT_EQ(ExtractMentions("[[|label]]"), Ids());
  EXPECT_EQ(ExtractMentions("[[two words]]"), Ids());
  EXPECT_EQ(ExtractMentions("[[unclosed"), Ids());
  EXPECT_EQ(ExtractMentions("[single]"), Ids());
}

TEST(Mentions, WikiLinksDoNotSpanLines) {
  EXPECT_EQ(ExtractMentions("[[a\nb]] @c"), Ids({"c"}));
  // A "]]" inside a later code block must not swallow the fence line.
  EXPECT_EQ(ExtractMentions("[[x\n```\n]] @inside\n```\n@after"), Ids({"after"}));
}

TEST(Mentions, AtMentions) {
  EXPECT_EQ(ExtractMentions("@abc"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("hi @abc."), Ids({"abc"}));  // sentence end, not id
  EXPECT_EQ(ExtractMentions("ask @abc: now"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("(@abc)"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("x,@abc"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("line\n@abc"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("@a.b-c_d:e"), Ids({"a.b-c_d:e"}));
  EXPECT_EQ(ExtractMentions("@2024-05-01"), Ids({"2024-05-01"}));
  EXPECT_EQ(ExtractMentions("@"), Ids());
  EXPECT_EQ(ExtractMentions("@ abc"), Ids());
  EXPECT_EQ(ExtractMentions("@..."), Ids());
  EXPECT_EQ(ExtractMentions("word@abc"), Ids());
}

TEST(Mentions, EmailAddressesAreNotMentions) {
  EXPECT_EQ(ExtractMentions("a@b.com"), Ids());
  EXPECT_EQ(ExtractMentions("write to a@b.com today"), Ids());
  EXPECT_EQ(ExtractMentions("first.last@example.org"), Ids());
  EXPECT_EQ(ExtractMentions("x_y@example.org, a-b@example.org"), Ids());
  EXPECT_EQ(ExtractMentions("<ana@example.org>"), Ids());
  EXPECT_EQ(ExtractMentions("ana+notes@example.org"), Ids());
  EXPECT_EQ(ExtractMentions("mail a@b.com or ping @ana"), Ids({"ana"}));
}

TEST(Mentions, NodespaceLinks) {
  EXPECT_EQ(ExtractMentions("see nodespace://abc-1"), Ids({"abc-1"}));
  EXPECT_EQ(ExtractMentions("[label](nodespace://abc)"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("end nodespace://abc."), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("nodespace://"), Ids());
  EXPECT_EQ(ExtractMentions("nodespace:/abc"), Ids());
}

TEST(Mentions, DeduplicatedInOrderOfFirstAppearance) {
  EXPECT_EQ(ExtractMentions("[[b]] @a [[b]] nodespace://a @c [[c|again]]"), Ids({"b", "a", "c"}));
  EXPECT_EQ(ExtractMentions("@z @y @x @y @z"), Ids({"z", "y", "x"}));
}

TEST(Mentions, IgnoresInlineCode) {
  EXPECT_EQ(ExtractMentions("`[[x]]` [[y]]"), Ids({"y"}));
  EXPECT_EQ(ExtractMentions("run `@x --flag` then @y"), Ids({"y"}));
  EXPECT_EQ(ExtractMentions("`nodespace://x`"), Ids());
  // A double-backtick span may contain a single backtick.
  EXPECT_EQ(ExtractMentions("``[[x]] ` @z`` @y"), Ids({"y"}));
  EXPECT_EQ(ExtractMentions("``a`` [[y]] ``b``"), Ids({"y"}));
  // A span may continue on the next line of the same paragraph.
  EXPECT_EQ(ExtractMentions("`multi\n@x line` @y"), Ids({"y"}));
}

TEST(Mentions, UnmatchedBackticksAreLiteral) {
  EXPECT_EQ(ExtractMentions("it is 5` long, see [[abc]]"), Ids({"abc"}));
  EXPECT_EQ(ExtractMentions("``not closed by one ` [[abc]]"), Ids({"abc"}));
  // A span never crosses a blank line.
  EXPECT_EQ(ExtractMentions("stray `\n\nnew paragraph @abc `x`"), Ids({"abc"}));
}

TEST(Mentions, IgnoresFencedCodeBlocks) {
  EXPECT_EQ(ExtractMentions("```\n[[x]] @x nodespace://x\n```\n[[y]]"), Ids({"y"}));
  EXPECT_EQ(ExtractMentions("~~~\n@x\n~~~\n@y"), Ids({"y"}));
  EXPECT_EQ(ExtractMentions("before @a\n  ```js\n@x\n  ```\nafter @b"), Ids({"a", "b"}));
  EXPECT_EQ(ExtractMentions("```\n@x"), Ids());  // an unclosed fence runs to the end
  EXPECT_EQ(ExtractMentions("```\n```\n@y"), Ids({"y"}));
  // Only a fence of the same kind (and at least as long) closes a block.
  EXPECT_EQ(ExtractMentions("```\n~~~\n@x\n```\n@y"), Ids({"y"}));
  EXPECT_EQ(ExtractMentions("````\n```\n@x\n````\n@y"), Ids({"y"}));
  EXPECT_EQ(ExtractMentions("~~~\n```\n@x\n~~~~\n@y"), Ids({"y"}));
}

TEST(Mentions, NothingToFind) {
  EXPECT_EQ(ExtractMentions(""), Ids());
  EXPECT_EQ(ExtractMentions("just words, no links"), Ids());
  EXPECT_EQ(ExtractMentions(std::string(300, 'x')), Ids());
  // Ids over 256 bytes are not ids.
  EXPECT_EQ(ExtractMentions("[[" + std::string(300, 'x') + "]]"), Ids());
}

}  // namespace
}  // namespace nodespace::content
