// The engine reports what it did on its own through a caller's info_log
// callback (Options::info_log, ServerOptions::info_log), and it does so from
// several threads: the scaling manager, background index builds, the writer
// and the server's request workers. A caller's callback is usually plain
// code that appends to a log or a stream, so the engine serializes the calls
// itself rather than asking every caller for a lock.
#pragma once

#include <functional>
#include <string_view>

namespace nodespace {

using InfoLog = std::function<void(std::string_view)>;

// Returns a callback that forwards to `log` one call at a time, however many
// threads call it or its copies (they share one lock). Null stays null, so
// callers keep their own default.
InfoLog OneLineAtATime(InfoLog log);

}  // namespace nodespace
