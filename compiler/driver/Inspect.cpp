//===- compiler/driver/Inspect.cpp - `ninc inspect` -----------------------===//
//
// The chapter's per-layer shape table plus exercise 3: parameters, compute
// and memory, for the spec's top-level layers (or, with --expand, for every
// convolution inside the NiN blocks).
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/model/Cost.h"

#include <cstdio>
#include <string>
#include <vector>

namespace ninc {

namespace {

/// 1992166 -> "1,992,166".
std::string withCommas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

/// Bytes as "7.60 MiB".
std::string bytes(int64_t b) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string giga(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f G", static_cast<double>(v) / 1e9);
  return buf;
}

std::string mega(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(v) / 1e6);
  return buf;
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string jsonShape(const Shape &s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i)
    out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

/// A row of the table: one spec layer, or one expanded layer.
struct Row {
  int index;
  std::string name, op;
  Shape shape;
  LayerCost cost;
};

std::vector<Row> tableRows(const Model &m, const std::vector<Shape> &shapes, const ModelCost &c,
                           bool expand) {
  std::vector<Row> rows;
  for (size_t s = 0; s < m.specLayers.size(); ++s) {
    const SpecLayer &spec = m.specLayers[s];
    if (expand && spec.endLayer - spec.firstLayer > 1) {
      for (int i = spec.firstLayer; i < spec.endLayer; ++i)
        rows.push_back({static_cast<int>(s), m.layers[i].name, opKindName(m.layers[i].kind),
                        shapes[i], c.layers[i]});
      continue;
    }
    rows.push_back({static_cast<int>(s), spec.name, spec.op, shapes[spec.endLayer - 1],
                    sumLayers(c, spec.firstLayer, spec.endLayer)});
  }
  return rows;
}

void printMemoryJson(const char *key, const MemoryEstimate &m, bool last) {
  std::printf("    %s: {\"weights\": %lld, \"gradients\": %lld, \"optimizer_state\": %lld, "
              "\"activations\": %lld, \"workspace\": %lld, \"total\": %lld}%s\n",
              jsonString(key).c_str(), (long long)m.weights, (long long)m.gradients,
              (long long)m.optimizerState, (long long)m.activations, (long long)m.workspace,
              (long long)m.total(), last ? "" : ",");
}

void printJson(const Model &m, const std::vector<Row> &rows, const ModelCost &c) {
  std::printf("{\n  \"model\": %s,\n  \"file\": %s,\n  \"batch\": %lld,\n  \"input\": %s,\n"
              "  \"num_classes\": %lld,\n  \"layers\": [\n",
              jsonString(m.name).c_str(), jsonString(m.sourcePath).c_str(), (long long)c.batch,
              jsonShape(inputShape(m, c.batch)).c_str(), (long long)m.numClasses);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row &r = rows[i];
    std::printf("    {\"index\": %d, \"name\": %s, \"op\": %s, \"output_shape\": %s, "
                "\"params\": %lld, \"macs\": %lld, \"forward_flops\": %lld, "
                "\"training_flops\": %lld}%s\n",
                r.index, jsonString(r.name).c_str(), jsonString(r.op).c_str(),
                jsonShape(r.shape).c_str(), (long long)r.cost.params, (long long)r.cost.macs,
                (long long)r.cost.forwardFlops,
                (long long)(r.cost.forwardFlops + r.cost.backwardFlops),
                i + 1 < rows.size() ? "," : "");
  }
  std::printf("  ],\n  \"total\": {\"params\": %lld, \"macs\": %lld, \"forward_flops\": %lld, "
              "\"training_step_flops\": %lld},\n  \"memory_bytes\": {\n",
              (long long)c.params, (long long)c.macs, (long long)c.forwardFlops,
              (long long)c.trainFlops);
  printMemoryJson("inference", c.inference, false);
  printMemoryJson("training", c.training, true);
  std::printf("  }\n}\n");
}

void printText(const Model &m, const std::vector<Row> &rows, const ModelCost &c) {
  std::printf("model '%s' (%s)%s%s\n", m.name.c_str(), m.sourcePath.c_str(),
              m.description.empty() ? "" : ": ", m.description.c_str());
  if (m.numClasses > 0)
    std::printf("input %s, %lld classes, batch %lld\n\n",
                formatShapeTuple(inputShape(m, c.batch)).c_str(), (long long)m.numClasses,
                (long long)c.batch);
  else
    std::printf("input %s, a feature extractor (no num_classes), batch %lld\n\n",
                formatShapeTuple(inputShape(m, c.batch)).c_str(), (long long)c.batch);
  std::printf("%3s  %-12s %-16s %-22s %12s %16s %12s %12s\n", "#", "layer", "op",
              "output shape", "params", "MACs", "fwd MFLOP", "train MFLOP");
  for (const Row &r : rows)
    std::printf("%3d  %-12s %-16s %-22s %12s %16s %12s %12s\n", r.index, r.name.c_str(),
                r.op.c_str(), formatShapeTuple(r.shape).c_str(), withCommas(r.cost.params).c_str(),
                withCommas(r.cost.macs).c_str(), mega(r.cost.forwardFlops).c_str(),
                mega(r.cost.forwardFlops + r.cost.backwardFlops).c_str());

  std::printf("\nparameters: %s (%s as fp32)\n", withCommas(c.params).c_str(),
              bytes(c.params * 4).c_str());
  std::printf("compute per batch of %lld: %s MACs; inference forward %sFLOP; training step "
              "%sFLOP (forward, backward, loss, SGD)\n",
              (long long)c.batch, withCommas(c.macs).c_str(), giga(c.forwardFlops).c_str(),
              giga(c.trainFlops).c_str());
  std::printf("\nmemory at batch %lld (fp32)    %14s %14s\n", (long long)c.batch, "inference",
              "training");
  auto line = [](const char *what, int64_t inf, int64_t train, bool infApplies) {
    std::printf("  %-28s %14s %14s\n", what, infApplies ? bytes(inf).c_str() : "-",
                bytes(train).c_str());
  };
  line("weights", c.inference.weights, c.training.weights, true);
  line("gradients", 0, c.training.gradients, false);
  line("optimizer state (momentum)", 0, c.training.optimizerState, false);
  line("activations", c.inference.activations, c.training.activations, true);
  line("backward workspace", 0, c.training.workspace, false);
  line("total", c.inference.total(), c.training.total(), true);
  std::printf("  (inference keeps the input and output of one layer at a time; training keeps "
              "the input and every layer's output for backward)\n");
}

} // namespace

int runInspect(const InspectOptions &opts) {
  std::optional<Model> model = loadModelOrReport(opts.model);
  if (!model)
    return kExitInvalidInput;
  Expected<std::vector<Shape>> shapes = inferShapes(*model, opts.batch);
  if (!shapes) {
    printError(opts.model + ": error: " + shapes.message());
    return kExitInvalidInput;
  }
  ModelCost cost = computeCost(*model, *shapes, opts.batch);
  std::vector<Row> rows = tableRows(*model, *shapes, cost, opts.expand);
  if (opts.json)
    printJson(*model, rows, cost);
  else
    printText(*model, rows, cost);
  return kExitOk;
}

} // namespace ninc
