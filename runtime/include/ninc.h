/*===- runtime/include/ninc.h - C API of a model compiled by ninc --*- C -*-===*
 *
 * `ninc compile MODEL --emit=lib -o libmodel.so` produces a shared library
 * with one compiled model behind this API. Link with -lmodel (it needs
 * libz, libomp and libstdc++ at run time, nothing of MLIR or protobuf).
 *
 *   ninc_model *m = ninc_model_create();          // seeded Xavier weights
 *   if (!m || ninc_model_load_weights(m, "trained.pb") != 0) ... ninc_last_error()
 *   ninc_model_run(m, images, n, logits);          // n <= ninc_model_batch(m)
 *   ninc_model_destroy(m);
 *
 * Images are float32 NCHW [n, C, H, W] (Fashion-MNIST: [n, 1, H, W] scaled
 * to [0, 1]); logits are float32 [n, classes]. Functions returning int give 0
 * on success and -1 on error, with a message from ninc_last_error().
 *===----------------------------------------------------------------------===*/
#ifndef NINC_H
#define NINC_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ninc_model ninc_model;

/* A new instance with the spec's seeded (Xavier) weights; NULL on error. */
ninc_model *ninc_model_create(void);

/* Frees an instance (NULL is allowed). */
void ninc_model_destroy(ninc_model *model);

/* Replaces the weights with those of a binary model file (.pb) that has them. */
int ninc_model_load_weights(ninc_model *model, const char *path);

/* The model's name, the batch it was compiled for, its input and classes. */
const char *ninc_model_name(const ninc_model *model);
int ninc_model_batch(const ninc_model *model);
int ninc_model_input_shape(const ninc_model *model, int *channels, int *height, int *width);
int ninc_model_classes(const ninc_model *model);

/* Logits of n images (1 <= n <= batch; a short batch is padded inside). */
int ninc_model_run(ninc_model *model, const float *images, int n, float *logits);

/* The last error of this thread, or "" if none. */
const char *ninc_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* NINC_H */
