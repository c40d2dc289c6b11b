// What differs between Markdown, Obsidian and Logseq files: which flavour a
// folder is, page names and daily notes, Logseq's `key:: value` properties
// and task markers.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "nodespace/markdown.h"

namespace nodespace::markdown {

// kAuto resolved by looking at the folder: logseq/ (or journals/ and pages/)
// means Logseq, .obsidian/ means Obsidian, anything else plain Markdown.
MarkdownFlavor DetectFlavor(const std::filesystem::path& folder);

// "YYYY-MM-DD" when a file name (without .md) is a daily note: YYYY-MM-DD
// for Markdown and Obsidian, YYYY_MM_DD for Logseq journals. Else "".
std::string DailyNoteDate(std::string_view stem, MarkdownFlavor flavor);
// The date a link names as a journal page: Logseq's default title format
// ("Nov 29th, 2026", "November 29, 2026") or an ISO date; "YYYY-MM-DD" or "".
std::string LinkedDate(std::string_view name);

// A Logseq page's name from its file name: "a___b" and "a%2Fb" mean "a/b".
std::string LogseqPageName(std::string_view stem);
// The file name (without .md) Logseq uses for a page name.
std::string LogseqFileName(std::string_view page_name);

// A line "key:: value" (leading spaces allowed): its key and value.
bool ParseLogseqProperty(std::string_view line, std::string* key, std::string* value);

// A Logseq property value as JSON: tags and alias are lists ("a, [[b]]" ->
// ["a","b"]), everything else a string.
nlohmann::json LogseqValue(const std::string& key, const std::string& value);
// The inverse, for export.
std::string LogseqValueText(const nlohmann::json& value);

// Splits the property lines off a Logseq block's content. Returns the
// content without them; `properties` gets each key (in order).
std::string SplitLogseqProperties(std::string_view content, nlohmann::json* properties);

// A leading Logseq task marker (TODO, DOING, DONE, LATER, NOW, WAITING,
// CANCELED, CANCELLED): sets `marker` and `status` (a task.status value) and
// returns the content without it; returns `content` unchanged otherwise.
std::string_view SplitTaskMarker(std::string_view content, std::string* marker,
                                 std::string* status);
// The marker for a task status when none was recorded.
const char* TaskMarkerFor(const std::string& status);

}  // namespace nodespace::markdown
