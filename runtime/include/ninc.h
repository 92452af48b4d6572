/*===- runtime/include/ninc.h - C API of a model compiled by ninc --*- C -*-===*
 *
 * `ninc compile MODEL --emit=lib -o libmodel.so` produces a shared library
 * with one compiled model behind this API. Link with -lmodel (it needs
 * libz, libomp and libstdc++ at run time, nothing of MLIR or protobuf).
 *
 *   ninc_model *m = ninc_model_create();          // embedded or Xavier weights
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

/* A new instance with the weights `ninc compile` embedded from the model
 * file (a checkpoint, an imported model), else the spec's seeded Xavier
 * weights; NULL on error. */
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

/* Training (a library compiled with `ninc compile --mode=train --emit=lib`).
 *
 *   ninc_model_set_hyperparameters(m, 0.1f, 0.0f, 0.0f); // SGD (defaults: the spec's)
 *   for (...) ninc_model_train_step(m, images, labels, n, &loss); // n <= batch
 *   ninc_model_save(m, "trained.pb");   // read by ninc inspect, out/nin infer --weights
 *
 * 1 if this library can train, else 0. */
int ninc_model_can_train(const ninc_model *model);

/* SGD's learning rate (> 0), momentum (0 <= m < 1) and L2 weight decay
 * (>= 0) for the next steps; until set, the spec's training recipe. */
int ninc_model_set_hyperparameters(ninc_model *model, float learning_rate, float momentum,
                                   float weight_decay);

/* One SGD step on n images (1 <= n <= ninc_model_batch; as for
 * ninc_model_run) and their labels (0..classes-1), updating the weights in
 * place; the mean cross-entropy loss of the n images before the step goes to
 * *loss (may be NULL). A short batch is padded inside with rows the step
 * ignores, so its gradient is the mean over its n images. Dropout masks follow the spec's seed and the step count, as in the
 * compiled program's `train`. */
int ninc_model_train_step(ninc_model *model, const float *images, const int *labels, int n,
                          float *loss);

/* The weights as float arrays: every parameter in the spec's layout (conv
 * weights OIHW [out, in, kh, kw], then biases) and order (as `ninc inspect`
 * lists them), one after another; ninc_model_num_weights floats in all.
 * Parameter i's name and size: ninc_model_param_name (NULL if no such i). */
long ninc_model_num_weights(const ninc_model *model);
int ninc_model_num_params(const ninc_model *model);
const char *ninc_model_param_name(const ninc_model *model, int i, long *size);
int ninc_model_get_weights(const ninc_model *model, float *values, long count);
int ninc_model_set_weights(ninc_model *model, const float *values, long count);

/* Writes the model with its current weights as a binary model file (.pb),
 * atomically (complete or absent): `ninc inspect`, `ninc run --weights`,
 * `out/nin infer --weights` and ninc_model_load_weights read it. */
int ninc_model_save(const ninc_model *model, const char *path);

/* The last error of this thread, or "" if none. */
const char *ninc_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* NINC_H */
