//===- compiler/driver/main.cpp - The ninc command line --------------------===//
//
// ninc <command> [options]. Commands: inspect, validate, convert, compile,
// check, run. Each has an add<Command>Command that declares its options;
// dispatch runs the one the command line named.
// Exit codes (ExitCode): 0 ok, 1 invalid input, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/ModelWeights.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/model/Shapes.h"
#include "compiler/codegen/cpu/CpuCodegen.h"
#include "compiler/pipeline/Autotune.h"
#include "compiler/pipeline/Compile.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ninc {
namespace {

/// `ninc convert`'s arguments as the command line spells them.
struct ConvertArgs {
  std::string input, output, from = "auto", to = "auto";
  bool noValidate = false;
};

/// `ninc compile`'s arguments: the compiler's options, the target asked for
/// and what the driver checks or answers itself before compiling.
struct CompileArgs {
  CompileOptions options;
  TargetRequest target;
  std::string emit = "exe";
  bool noSchedule = false;
  bool printTarget = false;
  CLI::Option *gpuArch = nullptr; ///< Its count says whether --gpu-arch was given.
  bool autotune = false;
  AutotuneOptions tune;
  int64_t scheduleCandidate = -1; ///< --schedule-candidate (tests).
};

struct ExportArgs {
  std::string model, output, weights;
};

/// Every subcommand's arguments, filled by parsing.
struct Options {
  InspectOptions inspect;
  std::vector<std::string> validateModels;
  ConvertArgs convert;
  ExportArgs exportArgs;
  CompileArgs compile;
  CheckOptions check;
  ClassifyOptions run;
};

/// A subcommand as added, and what runs it once the command line named it.
struct Command {
  CLI::App *subcommand;
  std::function<int()> run;
};

int runValidate(const std::vector<std::string> &models) {
  int code = kExitOk;
  for (const std::string &path : models) {
    std::optional<Model> model = loadModelOrReport(path);
    if (!model) {
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
  if (s == "onnx") return SpecFormat::Onnx;
  return SpecFormat::Auto;
}

/// Whether `output` names the same file as one of `inputs` (which exist):
/// a command must never write over what it reads. Prints the refusal.
bool overwritesInput(const std::string &output, std::initializer_list<std::string> inputs) {
  std::error_code ec;
  for (const std::string &input : inputs) {
    if (input.empty() || output.empty() || output == "-")
      continue;
    if (std::filesystem::exists(output, ec) && std::filesystem::equivalent(output, input, ec)) {
      printError(output + ": error: the output would overwrite the input '" + input +
                 "'; give another output name");
      return true;
    }
  }
  return false;
}

int runConvert(const ConvertArgs &args) {
  if (overwritesInput(args.output, {args.input}))
    return kExitUsage;
  ConvertOptions opts{parseFormat(args.from), parseFormat(args.to), !args.noValidate};
  if (Status s = convertModelFile(args.input, args.output, opts); !s) {
    printError(s.message());
    // An output we cannot name is a usage error; everything else is input.
    return s.message().find("expected an output name") != std::string::npos ? kExitUsage
                                                                             : kExitInvalidInput;
  }
  return kExitOk;
}

/// `ninc export`: the model with its weights (or --weights, or Xavier init
/// from its seed) as an ONNX model.
int runExport(const ExportArgs &args) {
  if (overwritesInput(args.output, {args.model, args.weights}))
    return kExitUsage;
  std::optional<Model> model = loadModelOrReport(args.model);
  if (!model)
    return kExitInvalidInput;
  auto weights = chooseWeights(*model, args.weights);
  if (!weights) {
    printError(weights.message());
    return kExitInvalidInput;
  }
  model->weights = reference::paramsToTensors(*model, weights->first);
  if (Status s = exportOnnx(*model, args.output); !s) {
    printError(s.message());
    return kExitInvalidInput;
  }
  std::printf("wrote %s: model '%s' as ONNX (opset 13, batch symbolic), %s\n",
              args.output.c_str(), model->name.c_str(), weights->second.c_str());
  return kExitOk;
}

/// The flag combinations `target` cannot compile, each with its message;
/// kExitOk when there is none.
int checkCompileFlags(const CompileArgs &args, const Target &target) {
  const CompileOptions &compile = args.options;
  if (target.isCuda() && target.cuda->emulate && compile.emit == EmitStage::Ptx) {
    printError("--gpu-emulate runs the kernels on the CPU: there is no PTX to --emit");
    return kExitUsage;
  }
  if (compile.printSchedule && (target.isCuda() || args.noSchedule)) {
    printError("--schedule-report prints the CPU backend's schedule: it needs --target=cpu "
               "without --no-schedule");
    return kExitUsage;
  }
  if ((args.autotune || args.scheduleCandidate >= 0) && (target.isCuda() || args.noSchedule)) {
    printError(std::string(args.autotune ? "--autotune" : "--schedule-candidate") +
               " chooses CPU schedules: it needs --target=cpu without --no-schedule");
    return kExitUsage;
  }
  if (args.autotune && args.scheduleCandidate >= 0) {
    printError("--autotune and --schedule-candidate both choose the schedules: give one");
    return kExitUsage;
  }
  if (compile.precision == "bf16" && !target.isCuda() && args.noSchedule) {
    printError("--precision=bf16 on the CPU needs the schedules: drop --no-schedule");
    return kExitUsage;
  }
  if (std::string why; !supportsPrecision(target, compile.precision, why)) {
    printError(why);
    // TF32 exists only on tensor cores, so asking a CPU target for it is a
    // usage error whatever the CPU; a CPU or GPU that lacks the instructions
    // of a precision is, like bad input, exit 1.
    return !target.isCuda() && compile.precision == "tf32" ? kExitUsage : kExitInvalidInput;
  }
  return kExitOk;
}

/// `ninc compile`: makes the target once, answers --print-target, checks
/// the flags against the target, then compiles.
int runCompileCommand(CompileArgs &args) {
  if (overwritesInput(args.options.output, {args.options.model}))
    return kExitUsage;
  args.options.emit = *parseEmitStage(args.emit); // --emit accepts only stage names
  args.options.schedule = !args.noSchedule;
  Expected<Target> target = makeTarget(args.target);
  if (!target) {
    printError(target.message());
    return kExitUsage;
  }
  if (!target->isCuda() && (args.target.gpuEmulate || args.gpuArch->count() > 0)) {
    printError("--gpu-arch and --gpu-emulate need --target=cuda");
    return kExitUsage;
  }
  if (args.printTarget) {
    std::fputs(formatTarget(*target).c_str(), stdout);
    return kExitOk;
  }
  if (int code = checkCompileFlags(args, *target); code != kExitOk)
    return code;
  if (args.autotune) {
    std::optional<Model> model = loadModelOrReport(args.options.model);
    if (!model)
      return kExitInvalidInput;
    return compileWithAutotune(*model, args.options, *target, args.tune);
  }
  cpu::ScheduleTuning candidate;
  if (args.scheduleCandidate >= 0) {
    candidate.round = args.scheduleCandidate;
    args.options.tuning = &candidate;
  }
  return runCompile(args.options, *target);
}

CLI::App *addInspectCommand(CLI::App &app, InspectOptions &opts) {
  CLI::App *cmd = app.add_subcommand(
      "inspect", "Print the per-layer shape table, parameters, FLOPs and memory (d2l 7.3 "
                 "exercise 3)");
  cmd->add_option("model", opts.model, "Model file (.pbtxt, .pb or .onnx)")->required();
  cmd->add_option("--batch,-b", opts.batch, "Batch size for shapes, FLOPs and memory")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), ShapeLimits::kMaxBatch));
  cmd->add_flag("--json", opts.json, "Machine-readable output");
  cmd->add_flag("--expand", opts.expand, "One row per convolution inside NiN blocks");
  return cmd;
}

CLI::App *addValidateCommand(CLI::App &app, std::vector<std::string> &models) {
  CLI::App *cmd =
      app.add_subcommand("validate", "Check model files; print a summary or the first error");
  cmd->add_option("models", models, "Model files")->required();
  return cmd;
}

CLI::App *addConvertCommand(CLI::App &app, ConvertArgs &args) {
  CLI::App *cmd = app.add_subcommand(
      "convert", "Convert a model between text (.pbtxt) and binary (.pb), losslessly, or "
                 "from/to ONNX (.onnx)");
  cmd->add_option("input", args.input, "Model file to read")->required();
  cmd->add_option("output", args.output, "File to write (written atomically)")->required();
  cmd->add_option("--from", args.from, "Input encoding")
      ->check(CLI::IsMember({"auto", "text", "binary", "onnx"}))
      ->capture_default_str();
  cmd->add_option("--to", args.to, "Output encoding (auto: from the output's extension)")
      ->check(CLI::IsMember({"auto", "text", "binary", "onnx"}))
      ->capture_default_str();
  cmd->add_flag("--no-validate", args.noValidate, "Convert even if the model is invalid");
  return cmd;
}

CLI::App *addExportCommand(CLI::App &app, ExportArgs &args) {
  CLI::App *cmd = app.add_subcommand(
      "export", "Write a model with its weights as ONNX (for ONNX Runtime, OpenVINO, TensorRT)");
  cmd->add_option("model", args.model, "Model file (.pbtxt, .pb or .onnx)")->required();
  cmd->add_option("-o,--output", args.output, "ONNX file to write (atomically)")->required();
  cmd->add_option("--weights", args.weights,
                  "Model file whose weights to export (default: the model's own, else Xavier "
                  "init from its seed)");
  return cmd;
}

/// compile's flags that print what the compiler did or knows (to standard
/// error, except --print-target) rather than change what it compiles.
void addCompileReportFlags(CLI::App &cmd, CompileArgs &args) {
  CompileOptions &opts = args.options;
  cmd.add_flag("--time-report", opts.timeReport,
               "Print the seconds spent in each compiler phase (to standard error)");
  cmd.add_flag("--pass-timing", opts.passTiming,
               "Print MLIR's wall time of every pass, nested as the pass manager runs them "
               "(to standard error)");
  cmd.add_flag("--print-ir-after-all", opts.printIrAfterAll,
               "Print the IR after every pass (to standard error)");
  cmd.add_option("--print-ir-after", opts.printIrAfter,
                 "Print the IR after this pass (e.g. nin-fuse-conv-relu); repeatable");
  cmd.add_option("--print-ir-before", opts.printIrBefore,
                 "Print the IR before this pass; repeatable");
  cmd.add_flag("--schedule-report", opts.printSchedule,
               "Print the CPU schedule chosen for each op: threads split, register tiles, "
               "loop order, peeling, packing, fusion (to standard error; --target=cpu, stages "
               "llvm-mlir and later)");
  cmd.add_flag("--memory-plan", opts.printMemoryPlan,
               "Print each function's activation arena: every buffer, its size, offset and "
               "live range (to standard error; stages llvm-mlir and later)");
  cmd.add_flag("--print-target", args.printTarget,
               "Print what the compiler knows about the target (--target, --cpu, --gpu-arch) "
               "and exit without compiling; the model may then be left out");
}

CLI::App *addCompileCommand(CLI::App &app, CompileArgs &args) {
  CompileOptions &opts = args.options;
  CLI::App *cmd = app.add_subcommand(
      "compile", "Compile a model through the nin dialect to native code (--emit stops at a "
                 "stage and writes it)");
  // Required unless --print-target, which CLI11 cannot say: checked once
  // every flag is parsed, with CLI11's own message.
  cmd->add_option("model", opts.model, "Model file (.pbtxt, .pb or .onnx)");
  cmd->callback([&args] {
    if (args.options.model.empty() && !args.printTarget)
      throw CLI::RequiredError("model is required (or --print-target)",
                               CLI::ExitCodes::RequiredError);
  });
  cmd->add_option("-o,--output", opts.output, "Output file (text stages: default standard output)");
  cmd->add_option("--target", args.target.target, "Code generation target")
      ->check(CLI::IsMember(targetNames()))
      ->capture_default_str();
  cmd->add_option("--emit", args.emit,
                  "Stop after this stage and write it: nin (imported graph), nin-opt (after the "
                  "graph passes), linalg, llvm-mlir, llvm-ir, asm, obj, exe, lib, dot, ptx "
                  "(--target=cuda: one .ptx per kernel in the -o folder)")
      ->check(CLI::IsMember(emitStageNames()))
      ->capture_default_str();
  cmd->add_option("--mode", opts.mode,
                  "infer: inference only; train: also the training step (autodiff)")
      ->check(CLI::IsMember({"infer", "train"}))
      ->capture_default_str();
  cmd->add_option("--batch,-b", opts.batch,
                  "Static batch size of the compiled code (default: the spec's training "
                  "batch_size)")
      ->check(CLI::Range(int64_t(0), ShapeLimits::kMaxBatch));
  cmd->add_option("--threads,-j", opts.threads,
                  "Threads of the generated code (1: single-threaded, no OpenMP)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("-O,--opt-level", opts.optLevel,
                  "LLVM's optimisation level of the generated code (2: as fast as 3 on NiN "
                  "with the schedules' short loops unrolled, in less compile time)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3));
  cmd->add_flag("--no-schedule", args.noSchedule,
                "Plain loops instead of the tiled, vectorised schedules (debugging)");
  cmd->add_option("--cpu", args.target.cpu,
                  "LLVM CPU name or x86-64 level to generate for: x86-64-v3 (AVX2+FMA), "
                  "x86-64-v4 (AVX-512), znver3, znver4, skylake-avx512, sapphirerapids, ... "
                  "(default: this host; the program refuses a CPU that lacks the ISA)");
  // Validated by makeTarget, the one place that reads it.
  args.gpuArch = cmd->add_option("--gpu-arch", args.target.gpuArch,
                                 "--target=cuda: the GPU architecture of the kernels (sm_90, "
                                 "sm_90a, sm_80, ...)")
                     ->capture_default_str();
  cmd->add_flag("--gpu-emulate", args.target.gpuEmulate,
                "--target=cuda: run the kernels' tiling on this CPU instead (tests the GPU "
                "schedule without a GPU)");
  cmd->add_option("--precision", opts.precision,
                  "What convolutions and matmuls compute in: fp32; bf16 (CPU: AVX512-BF16 "
                  "vdpbf16ps; CUDA: tensor cores) with fp32 accumulation and fp32 weights; or "
                  "tf32 (--target=cuda). Logits within ~1e-3 (tf32) / ~3e-2 (bf16) relative "
                  "of fp32")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  cmd->add_flag("--no-vendor-libs", opts.noVendorLibs,
                "Use only kernels ninc generates (always so today: no convolution is handed to "
                "cuDNN or oneDNN)");
  cmd->add_flag("!--no-embed-weights", opts.embedWeights,
                "Do not embed the model file's weights (a checkpoint's, an imported ONNX "
                "model's) in the program or library; it then starts from Xavier init unless "
                "given --weights");
  cmd->add_flag("--autotune", args.autotune,
                "Time candidate schedules (register tiles, loop orders, K blocks) of each "
                "distinct conv/matmul on this machine and keep the fastest in a cache keyed by "
                "op, mode and target; later compiles reuse it without timing (--target=cpu)");
  cmd->add_option("--autotune-seconds", args.tune.seconds,
                  "Stop starting timing rounds after this many seconds (the cost model's round "
                  "always runs)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e9));
  cmd->add_option("--autotune-cache", args.tune.cachePath,
                  "The autotuning cache file (default: $NINC_AUTOTUNE_CACHE, else "
                  "$XDG_CACHE_HOME/ninc/autotune.tsv, else ~/.cache/ninc/autotune.tsv)");
  cmd->add_option("--schedule-candidate", args.scheduleCandidate,
                  "Testing: every conv/matmul on its K-th autotuning candidate (0: the cost "
                  "model's; past an op's last: its last)")
      ->check(CLI::Range(int64_t(0), int64_t(1000)));
  addCompileReportFlags(*cmd, args);
  return cmd;
}

CLI::App *addCheckCommand(CLI::App &app, CheckOptions &opts) {
  CLI::App *cmd = app.add_subcommand(
      "check", "Compile every layer prefix for the CPU and compare each layer's output with the "
               "reference interpreter; names the first layer beyond tolerance");
  cmd->add_option("model", opts.model, "Model file (.pbtxt, .pb or .onnx)")->required();
  cmd->add_option("--weights", opts.weights,
                  "Model file whose weights to use (default: the model's own, else Xavier "
                  "init from the spec's seed)");
  cmd->add_option("--images,-n", opts.images, "Fashion-MNIST test images to run")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--data-dir", opts.dataDir, "Folder with the Fashion-MNIST IDX files");
  cmd->add_option("--threads,-j", opts.threads, "Threads of the generated code")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--rtol", opts.rtol, "Relative tolerance (times max|ref|)")
      ->capture_default_str();
  cmd->add_option("--atol", opts.atol, "Absolute tolerance")->capture_default_str();
  return cmd;
}

CLI::App *addRunCommand(CLI::App &app, ClassifyOptions &opts) {
  CLI::App *cmd = app.add_subcommand(
      "run", "Classify Fashion-MNIST images with a backend and print the accuracy");
  cmd->add_option("model", opts.model, "Model file (.pbtxt, .pb or .onnx)")->required();
  cmd->add_option("--backend", opts.backend, "Execution backend")
      ->check(CLI::IsMember({"interp"}))
      ->capture_default_str();
  cmd->add_option("--weights", opts.weights,
                  "Model file whose trained weights to use (default: the model's own weights, "
                  "else Xavier init from the spec's seed)");
  cmd->add_option("--data-dir", opts.dataDir,
                  "Folder with the Fashion-MNIST IDX files (default: $NINC_DATA_DIR or "
                  "/usr/share/datasets/fashion-mnist)");
  cmd->add_option("--split", opts.split, "Which images")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  cmd->add_option("--limit,-n", opts.limit, "Classify only the first N images (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch,-b", opts.batch, "Images per batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--threads,-j", opts.threads, "OpenMP threads (0: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--save-logits", opts.saveLogits,
                  "Write the logits [N, classes], in file order, as a NumPy .npy file");
  cmd->add_option("--input", opts.input,
                  "Raw inputs instead of Fashion-MNIST: a float32 .npy [N, C, H, W] (NCHW, the "
                  "model's size); outputs go to --save-logits");
  cmd->add_flag("--quiet,-q", opts.quiet, "Print only the result line");
  return cmd;
}

/// Declares every subcommand, its options bound to `opts`.
std::vector<Command> addCommands(CLI::App &app, Options &opts) {
  return {
      {addInspectCommand(app, opts.inspect), [&opts] { return runInspect(opts.inspect); }},
      {addValidateCommand(app, opts.validateModels),
       [&opts] { return runValidate(opts.validateModels); }},
      {addConvertCommand(app, opts.convert), [&opts] { return runConvert(opts.convert); }},
      {addExportCommand(app, opts.exportArgs), [&opts] { return runExport(opts.exportArgs); }},
      {addCompileCommand(app, opts.compile), [&opts] { return runCompileCommand(opts.compile); }},
      {addCheckCommand(app, opts.check), [&opts] { return runCheck(opts.check); }},
      {addRunCommand(app, opts.run), [&opts] { return runClassify(opts.run); }},
  };
}

/// Runs the subcommand the command line named (parsing required one).
int dispatch(const std::vector<Command> &commands) {
  for (const Command &command : commands)
    if (command.subcommand->parsed())
      return command.run();
  return kExitUsage;
}

} // namespace
} // namespace ninc

int main(int argc, char **argv) {
  using namespace ninc;
  CLI::App app{"ninc: a compiler for Network-in-Network models (d2l 7.3).\n"
               "Reads models/*.pbtxt (text), *.pb (binary) or ONNX (*.onnx); see docs/model-spec.md."};
  app.set_version_flag("--version", "ninc 0.1.0");
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 invalid input (model, data, weights), 2 usage error.\n"
             "Run 'ninc <command> --help' for a command's options.");
  Options opts;
  std::vector<Command> commands = addCommands(app, opts);
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
  return dispatch(commands);
}
