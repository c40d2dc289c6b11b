// Runs a behaviour script (tests/scripts/*.test) against the real CLI, in
// process, keeping the database open across commands like a long-lived
// process would, and closing it at `restart`.
//
// Format, one block per command:
//   # comment
//   > ARGS...          run `nodespace ARGS`, expect exit 0; the lines that
//                      follow (up to a blank line) must equal its stdout
//   ! ARGS...          expect a non-zero exit; the lines must equal stderr
//   !N ARGS...         expect exit code N exactly
//   ?> ARGS...         run, expect exit 0, ignore the output
//   restart            close the database (the next command reopens it)
//   write NAME         write the following lines (up to a line `EOF`) to
//                      $TMP/NAME (creating its folders)
//   same A B           files $TMP/A and $TMP/B have identical bytes
// An expected line starting with "~ " is a regular expression that must
// match the whole output line. $TMP in arguments is the script's scratch
// directory; the database is $TMP/db (NODESPACE_DB).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "test_util.h"

namespace {

std::vector<std::string> SplitArgs(const std::string& line, const std::string& tmp) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"' || c == '\'') {
      in_word = true;
      const char quote = c;
      for (++i; i < line.size() && line[i] != quote; ++i) {
        if (quote == '"' && line[i] == '\\' && i + 1 < line.size()) {
          const char n = line[++i];
          cur += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        } else {
          cur += line[i];
        }
      }
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  for (auto& a : out) {
    for (size_t p; (p = a.find("$TMP")) != std::string::npos;) a.replace(p, 4, tmp);
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: nodespace_script_runner FILE.test\n";
    return 2;
  }
  std::ifstream file(argv[1]);
  if (!file) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 2;
  }
  std::vector<std::string> script;
  for (std::string l; std::getline(file, l);) script.push_back(l);

  nodespace::testing::TempDir tmp;
  setenv("NODESPACE_DB", tmp.Sub("db").c_str(), 1);
  int failures = 0, commands = 0;
  std::ostringstream out, err;
  nodespace::cli::Session session(out, err, /*terminal=*/false);

  for (size_t i = 0; i < script.size();) {
    const std::string line = script[i];
    const size_t line_no = i + 1;
    ++i;
    if (line.empty() || line[0] == '#') continue;
    if (line == "restart") {
      session.CloseDatabase();
      continue;
    }
    if (line.rfind("write ", 0) == 0) {
      const std::string path = tmp.Sub(line.substr(6));
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
      std::ofstream f(path, std::ios::binary);
      for (; i < script.size() && script[i] != "EOF"; ++i) f << script[i] << "\n";
      ++i;
      continue;
    }
    if (line.rfind("same ", 0) == 0) {
      const std::vector<std::string> names = SplitArgs(line.substr(5), tmp.path());
      auto slurp = [&](const std::string& name) {
        std::ifstream f(tmp.Sub(name), std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        return f ? ss.str() : std::string("<missing>");
      };
      ++commands;
      if (names.size() != 2 || slurp(names[0]) != slurp(names[1])) {
        ++failures;
        std::cerr << argv[1] << ":" << line_no << ": FAILED: files differ: " << line << "\n";
      }
      continue;
    }
    int want_exit = 0;  // -1: any non-zero
    bool ignore_output = false;
    std::string rest;
    if (line.rfind("> ", 0) == 0) {
      rest = line.substr(2);
    } else if (line.rfind("?> ", 0) == 0) {
      rest = line.substr(3);
      ignore_output = true;
    } else if (line.rfind("! ", 0) == 0) {
      rest = line.substr(2);
      want_exit = -1;
    } else if (line.size() > 2 && line[0] == '!' && isdigit(static_cast<unsigned char>(line[1]))) {
      const size_t sp = line.find(' ');
      want_exit = std::stoi(line.substr(1, sp - 1));
      rest = line.substr(sp + 1);
    } else {
      std::cerr << argv[1] << ":" << line_no << ": cannot parse line: " << line << "\n";
      return 2;
    }
    std::vector<std::string> expected;
    for (; i < script.size() && !script[i].empty(); ++i) expected.push_back(script[i]);

    ++commands;
    out.str("");
    err.str("");
    const int code = session.Run(SplitArgs(rest, tmp.path()));
    const bool exit_ok = want_exit == -1 ? code != 0 : code == want_exit;
    const std::vector<std::string> got = Lines(want_exit == 0 ? out.str() : err.str());
    bool match = ignore_output || got.size() == expected.size();
    for (size_t k = 0; match && !ignore_output && k < got.size(); ++k) {
      const std::string& e = expected[k];
      match =
          e.rfind("~ ", 0) == 0 ? std::regex_match(got[k], std::regex(e.substr(2))) : got[k] == e;
    }
    if (!exit_ok || !match) {
      ++failures;
      std::cerr << argv[1] << ":" << line_no << ": FAILED: " << rest << "\n"
                << "  exit code " << code << " (wanted "
                << (want_exit == -1 ? std::string("non-zero") : std::to_string(want_exit))
                << ")\n  expected:\n";
      for (const auto& e : expected) std::cerr << "    " << e << "\n";
      std::cerr << "  got stdout:\n";
      for (const auto& g : Lines(out.str())) std::cerr << "    " << g << "\n";
      std::cerr << "  got stderr:\n";
      for (const auto& g : Lines(err.str())) std::cerr << "    " << g << "\n";
    }
  }
  std::cout << argv[1] << ": " << commands << " commands, " << failures << " failed\n";
  return failures == 0 ? 0 : 1;
}
