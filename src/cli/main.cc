// The `nodespace` program: one CLI session per process.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  nodespace::cli::Session session(std::cout, std::cerr, isatty(STDERR_FILENO) != 0);
  const int code = session.Run(args);
  std::cout.flush();
  return code;
}
