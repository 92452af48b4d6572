/*===- examples/train.c - Train a model through the C API -----------------===*
 *
 * Uses a model compiled with
 *   ninc compile MODEL --mode=train --emit=lib -o DIR/libnin.so
 * through runtime/include/ninc.h: takes STEPS SGD steps on the first STEPS
 * batches of the Fashion-MNIST training images, in order (step s: images
 * s*B .. s*B+B-1), printing each step's loss, then the accuracy on the first
 * batch of test images, and saves the trained model as a binary model file
 * that `ninc inspect` and `out/nin infer --weights` read.
 *
 *   cc train.c -I DIR -L DIR -lnin -lz -Wl,-rpath,DIR -o train
 *   ./train DATA_DIR STEPS OUT.pb [WEIGHTS.pb [LR MOMENTUM WEIGHT_DECAY]]
 *===----------------------------------------------------------------------===*/
#include "fashion_mnist.h"
#include "ninc.h"

/* Prints the C API's last error and exits. */
static void check(int rc) {
  if (rc != 0) {
    fprintf(stderr, "%s\n", ninc_last_error());
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5 && argc != 8) {
    fprintf(stderr, "usage: %s DATA_DIR STEPS OUT.pb [WEIGHTS.pb [LR MOMENTUM WEIGHT_DECAY]]\n",
            argv[0]);
    return 2;
  }
  ninc_model *model = ninc_model_create(); /* embedded weights or Xavier init */
  if (!model) {
    fprintf(stderr, "%s\n", ninc_last_error());
    return 1;
  }
  if (!ninc_model_can_train(model)) {
    fprintf(stderr, "error: compile the library with --mode=train\n");
    return 1;
  }
  if (argc > 4)
    check(ninc_model_load_weights(model, argv[4]));
  if (argc > 5)
    check(ninc_model_set_hyperparameters(model, (float)atof(argv[5]), (float)atof(argv[6]),
                                         (float)atof(argv[7])));
  int c, h, w, batch = ninc_model_batch(model), classes = ninc_model_classes(model);
  ninc_model_input_shape(model, &c, &h, &w);
  long steps = atol(argv[2]);
  if (steps < 1 || c != 1) {
    fprintf(stderr, "error: STEPS must be >= 1 and the model must take 1 channel\n");
    return 2;
  }

  char path[4096];
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", argv[1]);
  unsigned char *pixels = readIdx(path, 16, steps * batch, 28 * 28);
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", argv[1]);
  unsigned char *bytes = readIdx(path, 8, steps * batch, 1);
  float *images = malloc(sizeof(float) * batch * h * w);
  int *labels = malloc(sizeof(int) * batch);
  for (long s = 0; s < steps; ++s) {
    for (int i = 0; i < batch; ++i) {
      toInput(pixels, s * batch + i, h, w, images + (long)i * h * w);
      labels[i] = bytes[8 + s * batch + i];
    }
    float loss;
    check(ninc_model_train_step(model, images, labels, batch, &loss));
    printf("step %ld: loss %.7f\n", s, loss);
  }

  /* The trained model on the first test batch. */
  free(pixels), free(bytes);
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", argv[1]);
  pixels = readIdx(path, 16, batch, 28 * 28);
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", argv[1]);
  bytes = readIdx(path, 8, batch, 1);
  float *logits = malloc(sizeof(float) * batch * classes);
  for (int i = 0; i < batch; ++i)
    toInput(pixels, i, h, w, images + (long)i * h * w);
  check(ninc_model_run(model, images, batch, logits));
  int correct = 0;
  for (int i = 0; i < batch; ++i) {
    int best = 0;
    for (int k = 1; k < classes; ++k)
      if (logits[i * classes + k] > logits[i * classes + best])
        best = k;
    correct += best == bytes[8 + i];
  }
  printf("test accuracy %.4f (%d/%d images)\n", (double)correct / batch, correct, batch);

  /* Read back a weight through the float arrays, then save the model. */
  long count = ninc_model_num_weights(model), size;
  float *values = malloc(sizeof(float) * count);
  check(ninc_model_get_weights(model, values, count));
  printf("%d parameters, %ld weights; %s[0] = %.7f\n", ninc_model_num_params(model), count,
         ninc_model_param_name(model, 0, &size), values[0]);
  check(ninc_model_save(model, argv[3]));
  printf("saved %s\n", argv[3]);
  free(values), free(logits), free(images), free(labels), free(pixels), free(bytes);
  ninc_model_destroy(model);
  return 0;
}
