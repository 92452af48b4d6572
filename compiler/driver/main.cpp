//===- compiler/driver/main.cpp - The ninc command line --------------------===//
//
// ninc <command> [options]. Commands: inspect, validate, convert, run.
// Exit codes: 0 ok, 1 invalid input, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/model/Shapes.h"
#include "compiler/pipeline/Compile.h"

#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdio>
#include <iostream>

namespace ninc {

void printError(const std::string &message) {
  if (message.find("error: ") != std::string::npos)
    std::fprintf(stderr, "%s\n", message.c_str());
  else
    std::fprintf(stderr, "ninc: error: %s\n", message.c_str());
}

namespace {

int runValidate(const std::vector<std::string> &models) {
  int code = kExitOk;
  for (const std::string &path : models) {
    Expected<Model> model = loadModel(path);
    if (!model) {
      printError(model.message());
      code = kExitInvalidInput;
      continue;
    }
    int64_t params = 0;
    for (const ParamInfo &p : parameterList(*model))
      params += p.numel();
    std::printf("%s: ok: model '%s', %zu layers (%zu after expanding NiN blocks), %lld "
                "parameters%s\n",
                path.c_str(), model->name.c_str(), model->specLayers.size(),
                model->layers.size(), static_cast<long long>(params),
                model->weights.empty() ? ", no weights (seeded init)" : ", with weights");
  }
  return code;
}

SpecFormat parseFormat(const std::string &s) {
  if (s == "text") return SpecFormat::Text;
  if (s == "binary") return SpecFormat::Binary;
  return SpecFormat::Auto;
}

} // namespace
} // namespace ninc

int main(int argc, char **argv) {
  using namespace ninc;
  CLI::App app{"ninc: a compiler for Network-in-Network models (d2l 7.3).\n"
               "Reads models/*.pbtxt (text) or *.pb (binary); see docs/model-spec.md."};
  app.set_version_flag("--version", "ninc 0.1.0");
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 invalid input (model, data, weights), 2 usage error.\n"
             "Run 'ninc <command> --help' for a command's options.");

  InspectOptions inspect;
  CLI::App *inspectCmd = app.add_subcommand(
      "inspect", "Print the per-layer shape table, parameters, FLOPs and memory (d2l 7.3 "
                 "exercise 3)");
  inspectCmd->add_option("model", inspect.model, "Model file (.pbtxt or .pb)")->required();
  inspectCmd->add_option("--batch,-b", inspect.batch, "Batch size for shapes, FLOPs and memory")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), ShapeLimits::kMaxBatch));
  inspectCmd->add_flag("--json", inspect.json, "Machine-readable output");
  inspectCmd->add_flag("--expand", inspect.expand,
                       "One row per convolution inside NiN blocks");

  std::vector<std::string> validateModels;
  CLI::App *validateCmd =
      app.add_subcommand("validate", "Check model files; print a summary or the first error");
  validateCmd->add_option("models", validateModels, "Model files")->required();

  std::string convertIn, convertOut, convertFrom = "auto", convertTo = "auto";
  bool noValidate = false;
  CLI::App *convertCmd = app.add_subcommand(
      "convert", "Convert a model between text (.pbtxt) and binary (.pb), losslessly");
  convertCmd->add_option("input", convertIn, "Model file to read")->required();
  convertCmd->add_option("output", convertOut, "File to write (written atomically)")->required();
  convertCmd->add_option("--from", convertFrom, "Input encoding")
      ->check(CLI::IsMember({"auto", "text", "binary"}))
      ->capture_default_str();
  convertCmd->add_option("--to", convertTo, "Output encoding (auto: from the output's extension)")
      ->check(CLI::IsMember({"auto", "text", "binary"}))
      ->capture_default_str();
  convertCmd->add_flag("--no-validate", noValidate, "Convert even if the model is invalid");

  CompileOptions compile;
  TargetRequest targetRequest;
  std::string emit = "exe";
  CLI::App *compileCmd = app.add_subcommand(
      "compile", "Compile a model through the nin dialect to native code (--emit stops at a "
                 "stage and writes it)");
  compileCmd->add_option("model", compile.model, "Model file (.pbtxt or .pb)")->required();
  compileCmd->add_option("-o,--output", compile.output,
                         "Output file (text stages: default standard output)");
  compileCmd->add_option("--target", targetRequest.target, "Code generation target")
      ->check(CLI::IsMember(targetNames()))
      ->capture_default_str();
  compileCmd->add_option("--emit", emit,
                         "Stop after this stage and write it: nin (imported graph), nin-opt "
                         "(after the graph passes), linalg, llvm-mlir, llvm-ir, asm, obj, exe, "
                         "lib, dot, ptx (--target=cuda: one .ptx per kernel in the -o folder)")
      ->check(CLI::IsMember(emitStageNames()))
      ->capture_default_str();
  compileCmd->add_option("--mode", compile.mode,
                         "infer: inference only; train: also the training step (autodiff)")
      ->check(CLI::IsMember({"infer", "train"}))
      ->capture_default_str();
  compileCmd->add_option("--batch,-b", compile.batch,
                         "Static batch size of the compiled code (default: the spec's "
                         "training batch_size)")
      ->check(CLI::Range(int64_t(0), ShapeLimits::kMaxBatch));
  compileCmd->add_option("--threads,-j", compile.threads,
                         "Threads of the generated code (1: single-threaded, no OpenMP)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  bool noSchedule = false;
  compileCmd->add_flag("--no-schedule", noSchedule,
                       "Plain loops instead of the tiled, vectorised schedules (debugging)");
  compileCmd->add_option("--cpu", targetRequest.cpu, "LLVM CPU to generate for (default: this host)");
  compileCmd->add_option("--gpu-arch", targetRequest.gpuArch,
                         "--target=cuda: the GPU architecture of the kernels (sm_90, sm_90a, "
                         "sm_80, ...)")
      ->capture_default_str()
      ->check([](const std::string &arch) -> std::string {
        size_t digits = 0;
        while (3 + digits < arch.size() && std::isdigit((unsigned char)arch[3 + digits]))
          ++digits;
        bool ok = arch.rfind("sm_", 0) == 0 && digits >= 2 &&
                  (arch.size() == 3 + digits || arch.substr(3 + digits) == "a");
        return ok ? "" : "expected sm_NN or sm_NNa (e.g. sm_90), got '" + arch + "'";
      });
  compileCmd->add_flag("--gpu-emulate", targetRequest.gpuEmulate,
                       "--target=cuda: run the kernels' tiling on this CPU instead (tests the "
                       "GPU schedule without a GPU)");
  compileCmd->add_option("--precision", compile.precision,
                         "What convolutions and matmuls compute in: fp32; bf16 (CPU: AVX512-BF16 "
                         "vdpbf16ps; CUDA: tensor cores) with fp32 accumulation and fp32 "
                         "weights; or tf32 (--target=cuda). Logits within ~1e-3 (tf32) / "
                         "~3e-2 (bf16) relative of fp32")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  compileCmd->add_flag("--no-vendor-libs", compile.noVendorLibs,
                       "Use only kernels ninc generates (always so today: no convolution is "
                       "handed to cuDNN or oneDNN)");
  compileCmd->add_flag("--time-report", compile.timeReport,
                       "Print the seconds spent in each compiler phase (to standard error)");
  compileCmd->add_flag("--print-ir-after-all", compile.printIrAfterAll,
                       "Print the IR after every pass (to standard error)");
  compileCmd->add_option("--print-ir-after", compile.printIrAfter,
                         "Print the IR after this pass (e.g. nin-fuse-conv-relu); repeatable");
  compileCmd->add_option("--print-ir-before", compile.printIrBefore,
                         "Print the IR before this pass; repeatable");
  compileCmd->add_flag("--schedule-report", compile.printSchedule,
                       "Print the CPU schedule chosen for each op: threads split, register "
                       "tiles, loop order, peeling, packing, fusion (to standard error; "
                       "--target=cpu, stages llvm-mlir and later)");
  compileCmd->add_flag("--memory-plan", compile.printMemoryPlan,
                       "Print each function's activation arena: every buffer, its size, "
                       "offset and live range (to standard error; stages llvm-mlir and later)");

  CheckOptions check;
  CLI::App *checkCmd = app.add_subcommand(
      "check", "Compile every layer prefix for the CPU and compare each layer's output with the "
               "reference interpreter; names the first layer beyond tolerance");
  checkCmd->add_option("model", check.model, "Model file (.pbtxt or .pb)")->required();
  checkCmd->add_option("--weights", check.weights,
                       "Model file whose weights to use (default: the model's own, else "
                       "Xavier init from the spec's seed)");
  checkCmd->add_option("--images,-n", check.images, "Fashion-MNIST test images to run")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  checkCmd->add_option("--data-dir", check.dataDir, "Folder with the Fashion-MNIST IDX files");
  checkCmd->add_option("--threads,-j", check.threads, "Threads of the generated code")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  checkCmd->add_option("--rtol", check.rtol, "Relative tolerance (times max|ref|)")
      ->capture_default_str();
  checkCmd->add_option("--atol", check.atol, "Absolute tolerance")->capture_default_str();

  ClassifyOptions run;
  CLI::App *runCmd = app.add_subcommand(
      "run", "Classify Fashion-MNIST images with a backend and print the accuracy");
  runCmd->add_option("model", run.model, "Model file (.pbtxt or .pb)")->required();
  runCmd->add_option("--backend", run.backend, "Execution backend")
      ->check(CLI::IsMember({"interp"}))
      ->capture_default_str();
  runCmd->add_option("--weights", run.weights,
                     "Model file whose trained weights to use (default: the model's own "
                     "weights, else Xavier init from the spec's seed)");
  runCmd->add_option("--data-dir", run.dataDir,
                     "Folder with the Fashion-MNIST IDX files (default: $NINC_DATA_DIR or "
                     "/usr/share/datasets/fashion-mnist)");
  runCmd->add_option("--split", run.split, "Which images")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  runCmd->add_option("--limit,-n", run.limit, "Classify only the first N images (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  runCmd->add_option("--batch,-b", run.batch, "Images per batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  runCmd->add_option("--threads,-j", run.threads, "OpenMP threads (0: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  runCmd->add_option("--save-logits", run.saveLogits,
                     "Write the logits [N, classes], in file order, as a NumPy .npy file");
  runCmd->add_flag("--quiet,-q", run.quiet, "Print only the result line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    app.exit(e);
    return kExitUsage;
  }

  if (inspectCmd->parsed())
    return runInspect(inspect);
  if (validateCmd->parsed())
    return runValidate(validateModels);
  if (convertCmd->parsed()) {
    ConvertOptions opts{parseFormat(convertFrom), parseFormat(convertTo), !noValidate};
    if (Status s = convertModelFile(convertIn, convertOut, opts); !s) {
      printError(s.message());
      // An output we cannot name is a usage error; everything else is input.
      return s.message().find("expected an output name") != std::string::npos ? kExitUsage
                                                                               : kExitInvalidInput;
    }
    return kExitOk;
  }
  if (runCmd->parsed())
    return runClassify(run);
  if (checkCmd->parsed())
    return runCheck(check);
  if (compileCmd->parsed()) {
    compile.emit = *parseEmitStage(emit);
    if (targetRequest.target != "cuda" &&
        (targetRequest.gpuEmulate || compileCmd->get_option("--gpu-arch")->count() > 0)) {
      std::fprintf(stderr, "ninc: error: --gpu-arch and --gpu-emulate need --target=cuda\n");
      return kExitUsage;
    }
    Expected<Target> target = makeTarget(targetRequest);
    if (!target) {
      printError(target.message());
      return kExitUsage;
    }
    if (target->isCuda() && target->cuda->emulate && compile.emit == EmitStage::Ptx) {
      std::fprintf(stderr, "ninc: error: --gpu-emulate runs the kernels on the CPU: there is no "
                           "PTX to --emit\n");
      return kExitUsage;
    }
    if (compile.printSchedule && (target->isCuda() || noSchedule)) {
      std::fprintf(stderr, "ninc: error: --schedule-report prints the CPU backend's schedule: it "
                           "needs --target=cpu without --no-schedule\n");
      return kExitUsage;
    }
    if (compile.precision == "tf32" && !target->isCuda()) {
      std::fprintf(stderr, "ninc: error: --precision=tf32 needs --target=cuda (TF32 is a "
                           "tensor-core format)\n");
      return kExitUsage;
    }
    if (compile.precision == "bf16" && !target->isCuda() && noSchedule) {
      std::fprintf(stderr, "ninc: error: --precision=bf16 on the CPU needs the schedules: drop "
                           "--no-schedule\n");
      return kExitUsage;
    }
    compile.schedule = !noSchedule;
    return runCompile(compile, *target);
  }
  return kExitUsage;
}
