//===- tests/fuzz/CompileFuzzer.cpp - validate, then compile to linalg ----===//
//
// Mutated text models (seeded with models/*.pbtxt: libFuzzer's byte
// mutations change the text format's numbers and field names): a model that
// validates must import, pass the graph passes and convert to linalg
// (`ninc compile --emit=linalg`): what validation accepts, the compiler
// compiles. Also the training step (`--mode=train`) for every fourth
// input, by its first byte.
//
//===----------------------------------------------------------------------===//
#include "compiler/frontend/Frontend.h"
#include "compiler/model/Model.h"
#include "compiler/pipeline/Compile.h"
#include "tests/fuzz/FuzzFile.h"

#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = ninc::fuzz::writeInput("model.pbtxt", data, size);
  ninc::Expected<ninc::Model> model = ninc::loadModel(path, ninc::SpecFormat::Text);
  if (!model)
    return 0;
  static const ninc::Target target = [] {
    ninc::TargetRequest request;
    request.cpu = "x86-64-v3";
    ninc::Expected<ninc::Target> t = ninc::makeTarget(request);
    if (!t)
      std::abort();
    return *t;
  }();
  ninc::CompileOptions options;
  options.model = path;
  options.output = ninc::fuzz::scratchDir() + "/model.mlir";
  options.emit = ninc::EmitStage::Linalg;
  if (size > 0 && data[0] % 4 == 0)
    options.mode = "train";
  int rc = ninc::compileModel(*model, options, target);
  if (rc != ninc::kExitOk) {
    std::fprintf(stderr, "compile of a valid model exited %d\n", rc);
    std::abort();
  }
  return 0;
}
