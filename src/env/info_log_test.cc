#include "env/info_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace nodespace {
namespace {

TEST(InfoLogTest, CallsFromManyThreadsReachTheCallbackOneAtATime) {
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::vector<std::string> lines;  // no lock of its own: the wrapper is the lock
  InfoLog log = OneLineAtATime([&](std::string_view line) {
    const int now = ++inside;
    int most = most_inside.load();
    while (now > most && !most_inside.compare_exchange_weak(most, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    lines.emplace_back(line);
    --inside;
  });
  // Copies share the lock, as the engine's components each keep one.
  const InfoLog copy = log;
  constexpr int kThreads = 6;
  constexpr int kLines = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const InfoLog& mine = t % 2 ? log : copy;
      for (int i = 0; i < kLines; ++i) mine("thread " + std::to_string(t));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(most_inside.load(), 1);
  EXPECT_EQ(lines.size(), size_t{kThreads * kLines});
}

TEST(InfoLogTest, NoCallbackStaysNone) {
  // Callers fall back to stderr on a null callback; the wrapper keeps it null.
  EXPECT_FALSE(OneLineAtATime(nullptr));
}

}  // namespace
}  // namespace nodespace
