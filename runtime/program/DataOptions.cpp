//===- runtime/program/DataOptions.cpp - Where a program's images come from ===//

#include "runtime/program/DataOptions.h"

namespace ninc::rt {

Expected<data::Dataset> DataOptions::load(const ModelDescriptor &d, const std::string &path,
                                          data::Split split) const {
  Expected<data::Dataset> ds = Error{""};
  if (!path.empty()) {
    // A feature extractor's labels are not used: any class count goes (0).
    const int classes = d.output.empty() ? int(d.classes) : 0;
    ds = data::loadDataset(path, {int(d.channels), int(d.height), int(d.width), classes});
  } else {
    if (d.channels != 1 || (d.output.empty() && d.classes != data::kNumClasses))
      return Error{"error: Fashion-MNIST needs a model with 1 input channel and 10 classes; '" +
                   d.model + "' has " + std::to_string(d.channels) + " and " +
                   std::to_string(d.classes) + " (give its data with --train-data / "
                   "--test-data: a .npz or a folder of class sub-folders)"};
    ds = data::loadFashionMnist(dataDir.empty() ? data::defaultDataDir() : dataDir, split);
  }
  if (!ds)
    return ds;
  if (!mean.empty() || !stddev.empty()) {
    if (mean.size() != size_t(d.channels) || stddev.size() != size_t(d.channels))
      return Error{"error: --mean and --std need " + std::to_string(d.channels) +
                   " value(s) each, one per input channel"};
    for (float v : stddev)
      if (!(v > 0))
        return Error{"error: --std values must be > 0"};
    ds->mean = mean, ds->stddev = stddev;
  }
  return ds;
}

void DataOptions::addOptions(CLI::App *cmd) {
  cmd->add_option("--data-dir", dataDir, "Folder with the Fashion-MNIST IDX files");
  cmd->add_option("--mean", mean, "Per-channel mean subtracted after scaling to [0, 1]")
      ->delimiter(',');
  cmd->add_option("--std", stddev, "Per-channel standard deviation divided by after --mean")
      ->delimiter(',');
}

std::string classList(const data::Dataset &ds) {
  std::string out;
  for (const std::string &name : ds.classNames)
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

} // namespace ninc::rt
