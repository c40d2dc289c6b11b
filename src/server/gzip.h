// Response compression. cpp-httplib compresses on its own with Brotli at
// quality 11 whenever a browser offers `br` (about 1 s for a 300 KB script,
// 80 ms for a 100 KB JSON answer), so the server takes Accept-Encoding away
// from the library and gzips large bodies itself at a fast level.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nodespace::server {

// Bodies smaller than this go as they are: compressing them saves no packet.
inline constexpr size_t kCompressAtBytes = 1024;

// Does an Accept-Encoding header value allow gzip? ("gzip;q=0" does not.)
bool AcceptsGzip(std::string_view accept_encoding);

// Text and JSON compress well; images, archives and event streams do not
// (a stream must reach the client event by event).
bool IsCompressibleType(std::string_view content_type);

// `data` as a gzip member, or nothing when zlib fails.
std::optional<std::string> Gzip(std::string_view data, int level = 6);

}  // namespace nodespace::server
