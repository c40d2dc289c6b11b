#include "embed/text_analyzer.h"

#include <libstemmer.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace nodespace::embed {
namespace {

constexpr size_t kStemCacheEntries = 32'768;

// Decodes one UTF-8 sequence at text[*pos]. Returns the code point and
// advances *pos, or returns -1 and advances by one byte for a malformed
// sequence (overlong forms, surrogates and values above U+10FFFF included).
int32_t DecodeUtf8(std::string_view text, size_t* pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = *pos;
  unsigned char c = s[i];
  int len;
  int32_t cp;
  int32_t min;
  if (c < 0x80) {
    *pos = i + 1;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    *pos = i + 1;
    return -1;
  }
  if (i + len > n) {
    *pos = i + 1;
    return -1;
  }
  for (int k = 1; k < len; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) {
      *pos = i + 1;
      return -1;
    }
    cp = (cp << 6) | (s[i + k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *pos = i + 1;
    return -1;
  }
  *pos = i + len;
  return cp;
}

void AppendUtf8(int32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Base letters of U+00C0..U+017F, one character per code point. '_' marks a
// separator (× and ÷), '?' a letter that folds to two characters (see
// FoldTwo).
constexpr std::string_view kLatinFold =
    // U+00C0..U+00FF (Latin-1 Supplement letters)
    "aaaaaa?ceeeeiiii"
    "dnooooo_ouuuuy??"
    "aaaaaa?ceeeeiiii"
    "dnooooo_ouuuuy?y"
    // U+0100..U+017F (Latin Extended-A)
    "aaaaaaccccccccdd"
    "ddeeeeeeeeeegggg"
    "gggghhhhiiiiiiii"
    "ii??jjkkklllllll"
    "lllnnnnnnnnnoooo"
    "oo??rrrrrrssssss"
    "ssttttttuuuuuuuu"
    "uuuuwwyyyzzzzzzs";
static_assert(kLatinFold.size() == 0x180 - 0xC0);

std::string_view FoldTwo(int32_t cp) {
  switch (cp) {
    case 0xC6:  // Æ
    case 0xE6:  // æ
      return "ae";
    case 0xDE:  // Þ
    case 0xFE:  // þ
      return "th";
    case 0xDF:  // ß
      return "ss";
    case 0x132:  // Ĳ
    case 0x133:  // ĳ
      return "ij";
    case 0x152:  // Œ
    case 0x153:  // œ
      return "oe";
    default:
      return "";
  }
}

// Non-ASCII code points that end a word: Latin-1 punctuation and symbols,
// general punctuation (dashes, curly quotes), symbol and arrow blocks, CJK
// and full-width punctuation, private use, the BOM and emoji.
bool IsNonAsciiSeparator(int32_t cp) {
  return (cp >= 0x80 && cp <= 0xBF) || (cp >= 0x2000 && cp <= 0x2BFF) ||
         (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xE000 && cp <= 0xF8FF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
         (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
         (cp >= 0xFF5B && cp <= 0xFF65) || cp == 0xFEFF || (cp >= 0x1F000 && cp <= 0x1FAFF);
}

// Combining diacritical marks: dropped, so a decomposed "e\u0301" reads as "e".
bool IsCombiningMark(int32_t cp) {
  return cp >= 0x300 && cp <= 0x36F;
}

// Sorted, so IsStopWord can binary-search. Besides the usual function words
// it holds the pieces an apostrophe leaves behind ("don't" → "don", "t").
constexpr std::array<std::string_view, 135> kStopWords = {
    "a",    "about",     "above",  "after",   "again",      "against",  "all",       "am",
    "an",   "and",       "any",    "are",     "as",         "at",       "be",        "because",
    "been", "before",    "being",  "below",   "between",    "both",     "but",       "by",
    "can",  "could",     "d",      "did",     "do",         "does",     "doing",     "don",
    "down", "during",    "each",   "few",     "for",        "from",     "further",   "had",
    "has",  "have",      "having", "he",      "her",        "here",     "hers",      "herself",
    "him",  "himself",   "his",    "how",     "i",          "if",       "in",        "into",
    "is",   "it",        "its",    "itself",  "just",       "ll",       "m",         "me",
    "more", "most",      "my",     "myself",  "no",         "nor",      "not",       "now",
    "of",   "off",       "on",     "once",    "only",       "or",       "other",     "our",
    "ours", "ourselves", "out",    "over",    "own",        "re",       "s",         "same",
    "she",  "should",    "so",     "some",    "such",       "t",        "than",      "that",
    "the",  "their",     "theirs", "them",    "themselves", "then",     "there",     "these",
    "they", "this",      "those",  "through", "to",         "too",      "under",     "until",
    "up",   "us",        "ve",     "very",    "was",        "we",       "were",      "what",
    "when", "where",     "which",  "while",   "who",        "whom",     "why",       "will",
    "with", "would",     "you",    "your",    "yours",      "yourself", "yourselves"};

}  // namespace

bool IsStopWord(std::string_view word) {
  return std::binary_search(kStopWords.begin(), kStopWords.end(), word);
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && word.size() <= kMaxWordBytes) words.push_back(word);
    word.clear();
  };
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t cp = DecodeUtf8(text, &pos);
    if (cp < 0) {
      flush();
    } else if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (c >= 'A' && c <= 'Z') {
        word.push_back(static_cast<char>(c - 'A' + 'a'));
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        word.push_back(c);
      } else {
        flush();
      }
    } else if (cp >= 0xC0 && cp < 0x180) {
      char base = kLatinFold[cp - 0xC0];
      if (base == '_') {
        flush();
      } else if (base == '?') {
        word += FoldTwo(cp);
      } else {
        word.push_back(base);
      }
    } else if (IsCombiningMark(cp)) {
      // Part of the word, contributes nothing.
    } else if (IsNonAsciiSeparator(cp)) {
      flush();
    } else {
      AppendUtf8(cp, &word);
    }
  }
  flush();
  return words;
}

Result<std::unique_ptr<TextAnalyzer>> TextAnalyzer::Create() {
  sb_stemmer* stemmer = sb_stemmer_new("english", "UTF_8");
  if (stemmer == nullptr) {
    return Status::NotSupported("libstemmer has no UTF-8 'english' stemmer");
  }
  return std::unique_ptr<TextAnalyzer>(new TextAnalyzer(stemmer));
}

TextAnalyzer::~TextAnalyzer() {
  sb_stemmer_delete(stemmer_);
}

void TextAnalyzer::Analyze(std::string_view text, std::vector<std::string>* terms) {
  for (std::string& word : SplitWords(text)) {
    if (IsStopWord(word)) continue;
    auto cached = stem_cache_.find(word);
    if (cached != stem_cache_.end()) {
      if (!cached->second.empty()) terms->push_back(cached->second);
      continue;
    }
    const sb_symbol* stem = sb_stemmer_stem(
        stemmer_, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
    if (stem == nullptr) {  // out of memory inside libstemmer: keep the word unstemmed
      terms->push_back(std::move(word));
      continue;
    }
    std::string stemmed(reinterpret_cast<const char*>(stem),
                        static_cast<size_t>(std::max(0, sb_stemmer_length(stemmer_))));
    if (stem_cache_.size() >= kStemCacheEntries) stem_cache_.clear();
    stem_cache_.emplace(std::move(word), stemmed);
    if (!stemmed.empty()) terms->push_back(std::move(stemmed));
  }
}

std::vector<std::string> TextAnalyzer::Analyze(std::string_view text) {
  std::vector<std::string> terms;
  Analyze(text, &terms);
  return terms;
}

}  // namespace nodespace::embed
