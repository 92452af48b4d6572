//===- tests/unit/FuzzRegressionTest.cpp - Every fuzz finding, kept --------===//
//
// Each input the fuzzers found a bug with (tests/fuzz/regressions/<target>/)
// goes through the same reader function as in the fuzz target
// (tests/fuzz/FuzzReaders.h): it must end in data or an error naming the
// file. Under -DNINC_SANITIZE=address,undefined this reproduces the original
// report if the fix is undone; here it also checks the errors below.
//
//===----------------------------------------------------------------------===//
#include "tests/fuzz/FuzzReaders.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

const fs::path kRegressions = fs::path(NINC_SOURCE_DIR) / "tests" / "fuzz" / "regressions";

std::string readAll(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(FuzzRegression, EveryFindingEndsInDataOrANamedError) {
  int cases = 0;
  for (const auto &dir : fs::directory_iterator(kRegressions)) {
    const std::string target = dir.path().filename().string();
    auto reader = ninc::fuzz::readers().find(target);
    ASSERT_NE(reader, ninc::fuzz::readers().end()) << "no reader for " << dir.path();
    for (const auto &file : fs::directory_iterator(dir.path())) {
      SCOPED_TRACE(file.path().string());
      const std::string bytes = readAll(file.path());
      reader->second(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
      ++cases;
    }
  }
  EXPECT_GE(cases, 4);
}

// The findings' fixes, by their messages.
TEST(FuzzRegression, NpzMembersAreCheckedBeforeAllocating) {
  // Findings: a deflated member claiming 3.3 GB from a few bytes, and one of
  // an unknown zip method claiming 1 GB; both were allocated first.
  for (const auto &file : fs::directory_iterator(kRegressions / "npz")) {
    SCOPED_TRACE(file.path().string());
    const std::string bytes = readAll(file.path());
    const std::string path = ninc::fuzz::writeInput(
        "x.npz", reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
    ninc::data::DataShape want;
    want.classes = 0;
    auto ds = ninc::data::loadNpz(path, want);
    ASSERT_FALSE(ds);
    EXPECT_TRUE(ds.message().find("packed (corrupt)") != std::string::npos ||
                ds.message().find("uses zip method") != std::string::npos)
        << ds.message();
  }
}

TEST(FuzzRegression, JpegHuffmanTableOfMoreThan256SymbolsIsRefused) {
  // SOI, then a DHT segment whose 16 counts sum to 257.
  std::string jpeg = "\xFF\xD8\xFF\xC4";
  std::string body(1, '\x00');
  for (int i = 0; i < 16; ++i)
    body += char(i == 15 ? 257 - 15 * 16 : 16);
  body += std::string(257, '\x01');
  const size_t len = body.size() + 2;
  jpeg += char(len >> 8);
  jpeg += char(len & 0xFF);
  jpeg += body + "\xFF\xD9";
  const std::string folder = ninc::fuzz::scratchDir() + "/jpeg";
  fs::create_directories(folder + "/cls");
  std::ofstream(folder + "/cls/x.jpg", std::ios::binary) << jpeg;
  ninc::data::DataShape want;
  want.classes = 1;
  auto ds = ninc::data::loadImageFolder(folder, want);
  ASSERT_FALSE(ds);
  EXPECT_NE(ds.message().find("corrupt JPEG Huffman table (257 symbols)"), std::string::npos)
      << ds.message();
}

// The checks before stb_image refuse no valid JPEG: baseline and
// progressive, grey and RGB (cjpeg's, tests/fuzz/valid).
TEST(FuzzRegression, ValidJpegsStillLoad) {
  const fs::path valid = fs::path(NINC_SOURCE_DIR) / "tests" / "fuzz" / "valid";
  int loaded = 0;
  for (const auto &file : fs::directory_iterator(valid)) {
    SCOPED_TRACE(file.path().string());
    const std::string folder = ninc::fuzz::scratchDir() + "/valid-" + file.path().stem().string();
    fs::create_directories(folder + "/cls");
    fs::copy_file(file.path(), folder + "/cls/x.jpg", fs::copy_options::overwrite_existing);
    ninc::data::DataShape want;
    want.classes = 1;
    want.channels = file.path().stem().string().rfind("rgb", 0) == 0 ? 3 : 1;
    auto ds = ninc::data::loadImageFolder(folder, want);
    ASSERT_TRUE(ds) << ds.message();
    EXPECT_EQ(ds->count, 1);
    ++loaded;
  }
  EXPECT_EQ(loaded, 4);
}

} // namespace
