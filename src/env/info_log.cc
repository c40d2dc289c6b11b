#include "env/info_log.h"

#include <memory>
#include <mutex>
#include <utility>

namespace nodespace {

InfoLog OneLineAtATime(InfoLog log) {
  if (!log) return log;
  auto mu = std::make_shared<std::mutex>();
  return [mu, log = std::move(log)](std::string_view line) {
    std::lock_guard lock(*mu);
    log(line);
  };
}

}  // namespace nodespace
