//===- tests/fuzz/FuzzFile.h - Fuzz inputs as files -------------*- C++ -*-===//
//
// ninc's readers take paths (they name the file in every error), so each
// fuzz input is written to a file of this process first: in /dev/shm when
// there is one (no disk I/O per execution), else in $TMPDIR or /tmp.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_TESTS_FUZZ_FUZZFILE_H
#define NINC_TESTS_FUZZ_FUZZFILE_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace ninc::fuzz {

/// A folder of this process's own, created on first use and removed when
/// the process exits normally.
inline const std::string &scratchDir() {
  struct Dir {
    std::string path;
    Dir() {
      const char *tmp = std::getenv("TMPDIR");
      std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (tmp && *tmp ? tmp : "/tmp");
      path = base + "/ninc-fuzz-" + std::to_string(getpid());
      mkdir(path.c_str(), 0700);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

/// Writes `size` bytes to scratchDir()/name; returns its path.
inline std::string writeInput(const std::string &name, const uint8_t *data, size_t size) {
  std::string path = scratchDir() + "/" + name;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  if (size && std::fwrite(data, 1, size, f) != size)
    std::abort();
  std::fclose(f);
  return path;
}

/// An error message must name the file it is about (the readers' promise).
inline void expectNames(const std::string &message, const std::string &path) {
  if (message.find(path) == std::string::npos) {
    std::fprintf(stderr, "error message does not name %s: %s\n", path.c_str(), message.c_str());
    std::abort();
  }
}

} // namespace ninc::fuzz

#endif // NINC_TESTS_FUZZ_FUZZFILE_H
