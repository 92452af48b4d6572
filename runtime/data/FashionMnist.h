//===- runtime/data/FashionMnist.h - Fashion-MNIST data layer ---*- C++ -*-===//
//
// Loads the Fashion-MNIST IDX files (gzip-compressed or raw), turns samples
// into float NCHW batches resized the way d2l's NiN chapter does (28x28 ->
// 224x224), and produces the per-epoch shuffle order. Part of the runtime:
// only the C++ standard library and zlib, errors as values (support/Error.h).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_DATA_FASHIONMNIST_H
#define NINC_RUNTIME_DATA_FASHIONMNIST_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ninc::data {

/// Limits a header must respect before anything is allocated for its data.
/// Fashion-MNIST is 60000 x 28 x 28; the limits leave room for other IDX
/// image sets while rejecting headers that are plainly corrupt.
constexpr int64_t kMaxIdxCount = 10'000'000;
/// The largest accepted number of rows or columns in an IDX image file.
constexpr int kMaxIdxSide = 4096;
/// Labels are Fashion-MNIST classes, 0..9.
constexpr int kNumClasses = 10;

/// A set of images and their class labels, as stored on disk (Fashion-MNIST
/// here; NumPy and image folders in Datasets.h).
struct Dataset {
  /// Number of images (== number of labels).
  int64_t count = 0;
  /// Image height and width in pixels, and channels.
  int rows = 0, cols = 0, channels = 1;
  /// count * channels * rows * cols bytes, image-major, then channel, then
  /// row-major (NCHW); 0..255, scaled by 1/255. Empty when `values` holds
  /// the images instead.
  std::vector<uint8_t> pixels;
  /// The images as float32 (a float .npz), NCHW, used as they are.
  std::vector<float> values;
  /// count labels, each below the number of classes (an index into
  /// kFashionMnistClasses for Fashion-MNIST, into classNames otherwise).
  std::vector<uint8_t> labels;
  /// Class names in label order; empty: Fashion-MNIST's.
  std::vector<std::string> classNames;
  /// Per-channel normalisation applied by makeBatch after scaling:
  /// (x - mean[c]) / std[c]; empty: none.
  std::vector<float> mean, stddev;
  /// Where the data came from: "<images path>, <labels path>".
  std::string source;
};

/// Reads an IDX3 image file and an IDX1 label file, each gzip-compressed or
/// raw. Checks magic numbers, header bounds (before allocating), that the data
/// is present in full and nothing follows it, gzip integrity (including the
/// CRC), that the counts agree and that every label is in 0..9. Every error
/// message names the offending file.
Expected<Dataset> loadIdx(const std::string &imagesPath,
                          const std::string &labelsPath);

/// Which half of Fashion-MNIST to load.
enum class Split { Train, Test };

/// Loads one split from `dir`, which holds the standard file names
/// ({train,t10k}-{images-idx3,labels-idx1}-ubyte), each with or without ".gz"
/// (the compressed one wins when both exist).
Expected<Dataset> loadFashionMnist(const std::string &dir, Split split);

/// The data folder to use when none is given: $NINC_DATA_DIR if set and not
/// empty, else the folder configured at build time (NINC_DEFAULT_DATA_DIR).
std::string defaultDataDir();

/// Class names in label order, as in d2l's get_fashion_mnist_labels.
extern const char *const kFashionMnistClasses[kNumClasses];

/// Resizes one srcH x srcW float image into dstH x dstW with bilinear
/// interpolation, exactly as PyTorch's F.interpolate(mode='bilinear',
/// align_corners=False, antialias=False): half-pixel centres, coordinates
/// clamped to the image, no anti-aliasing when shrinking. Equal sizes copy.
/// `src` and `dst` must not overlap.
void resizeBilinear(const float *src, int srcH, int srcW, float *dst, int dstH,
                    int dstW);

/// Writes samples ds[indices[0..n)] as an n x C x outH x outW float batch
/// (NCHW; C = ds.channels) with pixels scaled to [0, 1] (or float values as
/// they are), then normalised when ds.mean is set, and their labels as int32.
/// Every index must be in [0, ds.count); `images` holds n*C*outH*outW floats,
/// `labels` n.
void makeBatch(const Dataset &ds, const int64_t *indices, int n, int outH,
               int outW, float *images, int32_t *labels);

/// The order in which to visit `count` samples in epoch `epoch`: a uniformly
/// random permutation of 0..count-1 that depends only on (seed, epoch), the
/// same on every platform (Fisher-Yates driven by CounterRng on stream
/// kStreamShuffle + epoch).
std::vector<int64_t> shuffledOrder(int64_t count, uint64_t seed,
                                   uint64_t epoch);

} // namespace ninc::data

#endif // NINC_RUNTIME_DATA_FASHIONMNIST_H
