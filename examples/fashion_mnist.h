/*===- examples/fashion_mnist.h - Fashion-MNIST for the C examples -*- C -*-===*
 *
 * What examples/classify.c and examples/train.c share: reading the gzip IDX
 * files with zlib and turning 28x28 pixels into a model's float input
 * (scaled to [0, 1], resized by nearest neighbour to keep the examples short;
 * ninc's own programs resize bilinearly, which is the identity at 28x28).
 *===----------------------------------------------------------------------===*/
#ifndef NINC_EXAMPLES_FASHION_MNIST_H
#define NINC_EXAMPLES_FASHION_MNIST_H

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

static const char *kClasses[10] __attribute__((unused)) = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                   "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};

/* Reads n items of `size` bytes after a `header`-byte IDX header; exits with
 * a message on failure. The items start at the result + header. */
static unsigned char *readIdx(const char *path, long header, long n, long size) {
  gzFile f = gzopen(path, "rb");
  unsigned char *data = malloc((size_t)(header + n * size));
  if (!f || !data || gzread(f, data, (unsigned)(header + n * size)) != header + n * size) {
    fprintf(stderr, "error: cannot read %ld items from %s\n", n, path);
    exit(1);
  }
  gzclose(f);
  return data;
}

/* Image i of `pixels` (28x28 bytes each, after a 16-byte header) as h x w
 * floats in [0, 1]. */
static void toInput(const unsigned char *pixels, long i, int h, int w, float *out) {
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      out[y * w + x] = pixels[16 + i * 784 + (y * 28 / h) * 28 + x * 28 / w] / 255.0f;
}

#endif /* NINC_EXAMPLES_FASHION_MNIST_H */
