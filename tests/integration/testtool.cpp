//===- tests/integration/testtool.cpp - Helpers for integration tests -----===//
//
//   testtool random-weights MODEL OUT.pb SEED   He-scaled random weights (so
//       activations stay O(1) through deep ReLU stacks), biases U(-0.1, 0.1)
//   testtool compare GOT.npy REF.npy [RTOL]     max|diff| <= RTOL (1e-4) max|ref| + 1e-5
//   testtool argmax LOGITS.npy                   the predicted class of each row
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/Frontend.h"
#include "runtime/support/Random.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace ninc;

namespace {

int randomWeights(const std::string &modelPath, const std::string &out, uint64_t seed) {
  Expected<Model> model = loadModel(modelPath);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.message().c_str());
    return 1;
  }
  model->weights.clear();
  std::vector<ParamInfo> params = parameterList(*model);
  for (size_t p = 0; p < params.size(); ++p) {
    const ParamInfo &info = params[p];
    double s = info.isBias ? 0.1 : std::sqrt(6.0 / double(info.fanIn));
    TensorData t{info.name, info.shape, std::vector<float>(info.numel())};
    for (int64_t j = 0; j < info.numel(); ++j)
      t.data[j] = float(s * (2.0 * randomUniform01(seed, p, j) - 1.0));
    model->weights.push_back(std::move(t));
  }
  if (Status st = saveModel(*model, out); !st) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  return 0;
}

/// A float32 C-order .npy file (as ninc writes them): shape and data.
bool readNpy(const std::string &path, std::vector<int64_t> &shape, std::vector<float> &data) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string bytes = buf.str();
  if (bytes.size() < 10 || bytes.compare(1, 5, "NUMPY") != 0)
    return false;
  size_t headerLen = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
  std::string header = bytes.substr(10, headerLen);
  if (header.find("'<f4'") == std::string::npos)
    return false;
  size_t open = header.find('(', header.find("'shape'"));
  std::istringstream dims(header.substr(open + 1, header.find(')', open) - open - 1));
  for (std::string d; std::getline(dims, d, ',');)
    if (d.find_first_of("0123456789") != std::string::npos)
      shape.push_back(std::stoll(d));
  size_t n = (bytes.size() - 10 - headerLen) / 4;
  data.resize(n);
  std::memcpy(data.data(), bytes.data() + 10 + headerLen, n * 4);
  return true;
}

int compare(const std::string &gotPath, const std::string &refPath, double rtol) {
  std::vector<int64_t> gs, rs;
  std::vector<float> got, ref;
  if (!readNpy(gotPath, gs, got) || !readNpy(refPath, rs, ref)) {
    std::fprintf(stderr, "FAIL: cannot read %s or %s as float32 .npy\n", gotPath.c_str(),
                 refPath.c_str());
    return 1;
  }
  if (gs != rs || got.size() != ref.size()) {
    std::fprintf(stderr, "FAIL: shapes differ (%zu vs %zu values)\n", got.size(), ref.size());
    return 1;
  }
  double maxDiff = 0, maxRef = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]))
      maxDiff = INFINITY;
    maxDiff = std::max(maxDiff, std::fabs(double(got[i]) - double(ref[i])));
    maxRef = std::max(maxRef, std::fabs(double(ref[i])));
  }
  double tol = rtol * maxRef + 1e-5;
  bool ok = maxDiff <= tol;
  std::printf("%s: %zu values, max|diff| %.3g, max|ref| %.3g, tolerance %.3g\n",
              ok ? "PASS" : "FAIL", got.size(), maxDiff, maxRef, tol);
  return ok ? 0 : 1;
}

int argmax(const std::string &path) {
  std::vector<int64_t> shape;
  std::vector<float> logits;
  if (!readNpy(path, shape, logits) || shape.size() != 2) {
    std::fprintf(stderr, "cannot read %s as [N, K] float32 .npy\n", path.c_str());
    return 1;
  }
  for (int64_t i = 0; i < shape[0]; ++i) {
    const float *row = logits.data() + i * shape[1];
    std::printf("%d\n", int(std::max_element(row, row + shape[1]) - row));
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 5 && std::strcmp(argv[1], "random-weights") == 0)
    return randomWeights(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
  if ((argc == 4 || argc == 5) && std::strcmp(argv[1], "compare") == 0)
    return compare(argv[2], argv[3], argc == 5 ? std::strtod(argv[4], nullptr) : 1e-4);
  if (argc == 3 && std::strcmp(argv[1], "argmax") == 0)
    return argmax(argv[2]);
  std::fprintf(stderr, "usage: testtool random-weights MODEL OUT.pb SEED | compare GOT.npy REF.npy\n");
  return 2;
}
