// Turns text into the terms the built-in embedder counts: UTF-8 decoded,
// lower-cased, common Latin diacritics folded (é→e, ß→ss), split on
// everything that is not a letter or digit, English stop words dropped, and
// each word reduced to its Snowball English stem ("handling" → "handl").
//
// The exact rules are part of every fitted LSA model: changing them changes
// which terms a model knows, so a change here needs a new model version
// (docs/formats/lsa-model.md).
//
// Thread safety: a TextAnalyzer owns a Snowball stemmer, which is not
// thread-safe; use one analyzer per thread (or guard it). The free functions
// below are pure and safe to call from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nodespace/status.h"

struct sb_stemmer;  // libstemmer, kept out of this header

namespace nodespace::embed {

// Words longer than this (after folding, in bytes) are dropped: they are
// almost always URLs, hashes or runs of text without spaces, never useful
// terms.
inline constexpr size_t kMaxWordBytes = 64;

class TextAnalyzer {
 public:
  // Fails only if libstemmer has no UTF-8 English stemmer (a broken install).
  static Result<std::unique_ptr<TextAnalyzer>> Create();
  ~TextAnalyzer();
  TextAnalyzer(const TextAnalyzer&) = delete;
  TextAnalyzer& operator=(const TextAnalyzer&) = delete;

  // Appends the terms of `text`, in order of appearance and with repeats, to
  // `*terms`. Invalid UTF-8 bytes separate words like punctuation does.
  void Analyze(std::string_view text, std::vector<std::string>* terms);
  std::vector<std::string> Analyze(std::string_view text);

 private:
  explicit TextAnalyzer(sb_stemmer* stemmer) : stemmer_(stemmer) {}
  sb_stemmer* stemmer_;  // owned
  // Word -> stem for recently seen words: words repeat (Zipf), and a lookup
  // is several times cheaper than running the stemmer. Emptied when full.
  std::unordered_map<std::string, std::string> stem_cache_;
};

// Splits `text` into folded, lower-cased words without dropping stop words
// or stemming: the first half of Analyze, exposed for tests and for callers
// that want plain words. Letters outside Latin-1/Latin Extended-A (Greek,
// Cyrillic, CJK, ...) are kept as they are, not lower-cased.
std::vector<std::string> SplitWords(std::string_view text);

// True for the words Analyze drops (a short English list, lower-case ASCII).
bool IsStopWord(std::string_view word);

}  // namespace nodespace::embed
