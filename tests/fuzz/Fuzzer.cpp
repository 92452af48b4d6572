//===- tests/fuzz/Fuzzer.cpp - One libFuzzer target per reader ------------===//
//
// Built once per reader (NINC_FUZZ_READER, a name FuzzReaders.h lists, as a
// string) by tests/fuzz/CMakeLists.txt.
//
//===----------------------------------------------------------------------===//
#include "tests/fuzz/FuzzReaders.h"

#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const auto &reader = [] {
    auto it = ninc::fuzz::readers().find(NINC_FUZZ_READER);
    if (it == ninc::fuzz::readers().end()) {
      std::fprintf(stderr, "no fuzz reader '%s'\n", NINC_FUZZ_READER);
      std::abort();
    }
    return it->second;
  }();
  reader(data, size);
  return 0;
}
