/*===- examples/classify.c - Classify images through the C API -----------===*
 *
 * Uses a model compiled with `ninc compile MODEL --emit=lib -o DIR/libnin.so`
 * through runtime/include/ninc.h: reads the first N Fashion-MNIST test images
 * (examples/fashion_mnist.h) and prints the predicted class of each and the
 * accuracy.
 *
 *   cc classify.c -I DIR -L DIR -lnin -lz -Wl,-rpath,DIR -o classify
 *   ./classify /usr/share/datasets/fashion-mnist [N] [WEIGHTS.pb]
 *===----------------------------------------------------------------------===*/
#include "fashion_mnist.h"
#include "ninc.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATA_DIR [N] [WEIGHTS.pb]\n", argv[0]);
    return 2;
  }
  ninc_model *model = ninc_model_create();
  if (!model || (argc > 3 && ninc_model_load_weights(model, argv[3]) != 0)) {
    fprintf(stderr, "%s\n", ninc_last_error());
    return 1;
  }
  int c, h, w, batch = ninc_model_batch(model), classes = ninc_model_classes(model);
  ninc_model_input_shape(model, &c, &h, &w);
  long n = argc > 2 ? atol(argv[2]) : batch;
  if (n < 1 || n > batch || c != 1) {
    fprintf(stderr, "error: N must be 1..%d and the model must take 1 channel\n", batch);
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", argv[1]);
  unsigned char *pixels = readIdx(path, 16, n, 28 * 28);
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", argv[1]);
  unsigned char *labels = readIdx(path, 8, n, 1);

  float *images = malloc(sizeof(float) * n * h * w), *logits = malloc(sizeof(float) * n * classes);
  for (long i = 0; i < n; ++i)
    toInput(pixels, i, h, w, images + i * h * w);
  if (ninc_model_run(model, images, (int)n, logits) != 0) {
    fprintf(stderr, "%s\n", ninc_last_error());
    return 1;
  }
  long correct = 0;
  for (long i = 0; i < n; ++i) {
    int best = 0;
    for (int k = 1; k < classes; ++k)
      if (logits[i * classes + k] > logits[i * classes + best])
        best = k;
    correct += best == labels[8 + i];
    printf("image %ld: %s (label %s)\n", i, kClasses[best], kClasses[labels[8 + i]]);
  }
  printf("model %s: %ld/%ld correct\n", ninc_model_name(model), correct, n);
  free(images), free(logits), free(pixels), free(labels);
  ninc_model_destroy(model);
  return 0;
}
