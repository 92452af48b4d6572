//===- runtime/data/Datasets.h - NumPy and image-folder datasets -*- C++ -*-===//
//
// Besides Fashion-MNIST's IDX files (FashionMnist.h), compiled programs train
// on and classify:
//   - a NumPy .npz (np.savez or np.savez_compressed) with `x`: uint8 (0..255,
//     scaled by 1/255) or float32 (taken as is) images [N, H, W], [N, C, H, W]
//     or [N, H, W, C], and `y`: integer labels [N] in 0..classes-1;
//   - a folder with one sub-folder of PNG or JPEG images per class (classes
//     in the sorted order of the sub-folders' names), decoded with Debian's
//     stb_image (compiled into the runtime, so programs gain no library),
//     converted to the model's channels (grey or RGB) and, when their size
//     differs, resized to the model's (bilinear, rounded to 8 bits, as
//     torchvision's Resize on a PIL image).
// Both become a Dataset (FashionMnist.h) that makeBatch resizes and
// normalises like Fashion-MNIST. Every error names the file and what was
// expected; sizes are checked before anything is allocated.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_DATA_DATASETS_H
#define NINC_RUNTIME_DATA_DATASETS_H

#include "runtime/data/FashionMnist.h"

namespace ninc::data {

/// What the model takes: its input and its number of classes.
struct DataShape {
  /// classes 0: any number (a feature extractor's data: labels unused).
  int channels = 1, height = 28, width = 28, classes = kNumClasses;
};

/// Most images a dataset file or folder may hold.
constexpr int64_t kMaxDatasetImages = 10'000'000;

/// A .npz file (`x`, `y`) or a folder of class sub-folders, checked against
/// `want` (channels; labels below want.classes; a folder has exactly
/// want.classes sub-folders).
Expected<Dataset> loadDataset(const std::string &path, const DataShape &want);

/// The .npz reader alone.
Expected<Dataset> loadNpz(const std::string &path, const DataShape &want);

/// The image-folder reader alone.
Expected<Dataset> loadImageFolder(const std::string &path, const DataShape &want);

} // namespace ninc::data

#endif // NINC_RUNTIME_DATA_DATASETS_H
