/*
 * CRFsuite's crf1d encoder with the L-BFGS objective computed on several
 * threads.
 *
 * CRFsuite's sources come from the pinned npm package and are not copied into
 * this repository, nor patched: this file compiles the package's
 * crf1d_encode.c in place of it (textual inclusion, so its static helpers --
 * state scores, forward-backward, model expectations -- are used as they
 * are), renames its constructor and puts its own in front:
 *
 *   - one encoder parameter more, "threads" (default 1), read like CRFsuite's
 *     own through the trainer's parameter object;
 *   - objective_and_gradients_batch (what train_lbfgs.c calls once per
 *     evaluation) with threads > 1: the training instances are cut into
 *     `threads` contiguous windows of about equal item counts, and CRFsuite's
 *     own batch objective runs once per window, concurrently — window 0 on the
 *     calling thread with the encoder itself, into the caller's gradient;
 *     window c > 0 on its own thread with a copy of the encoder that has its
 *     own forward-backward context, its own gradient buffer and its own copy
 *     of the feature table with the observation counts set to zero (so that
 *     its gradient holds its model expectations only: the counts are in
 *     window 0's). The objectives and gradients are then added in window
 *     order. No CRFsuite code is written again here: only its functions are
 *     called. A run is deterministic for a given thread count (the cut
 *     depends only on the data and the count; a window's sums do not depend
 *     on the OS thread that computes it). threads = 1 calls CRFsuite's batch
 *     objective once over everything: the model is byte-identical to
 *     CRFsuite's.
 *
 * Failures: the per-chunk buffers are allocated at the first evaluation. If
 * that fails, the evaluation returns a zero gradient (L-BFGS stops at once:
 * "already minimised") and the encoder records the error, which the addon's
 * training worker reads with mlbridge_crf1d_error() and turns into a failed
 * training; no model is kept. A thread that cannot be started has its chunk
 * computed on the calling thread instead (same sums, same result).
 *
 * The online algorithms (l2sgd, ap, pa, arow) never call the batch function:
 * "threads" does not change them (packages/core offers it for lbfgs only).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crf1d_parallel.h"

#define crf1d_create_encoder crf1d_create_encoder_serial
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wparentheses"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include "crf1d_encode.c"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#undef crf1d_create_encoder

/* One chunk of the training instances and what its thread computes: CRFsuite's
   own batch objective over the chunk's instances, through an encoder of its own. */
typedef struct {
  encoder_t gm;        /* a copy of the encoder whose internal is `enc` */
  crf1de_t enc;        /* the encoder's model with this chunk's own context (and, chunks > 0, own features) */
  dataset_t ds;        /* the chunk's instances: a window of the training set's order */
  floatval_t *g;       /* this chunk's gradient (chunk 0: the caller's) */
  const floatval_t *w; /* the weights being evaluated */
  floatval_t f;        /* this chunk's objective (minus its log-likelihood) */
} chunk_t;

/* The encoder's internal state: CRFsuite's (first, so that its functions see
   a crf1de_t) and the chunks'. */
typedef struct {
  crf1de_t base;
  int threads;     /* the "threads" parameter */
  int num_chunks;  /* chunks allocated (0 until the first parallel evaluation) */
  chunk_t *chunks; /* [num_chunks]; chunk 0 uses base's context and features */
  char error[200]; /* set when the chunks could not be allocated */
} par_t;

/* Set to 1 in a training's environment, makes the allocation of thread 1's
   buffers fail: how the tests check that such a failure fails the training. */
static const char mlbridge_crf1d_fail_alloc_env[] = "MLBRIDGE_TEST_FAIL_TRAIN_THREAD_ALLOC";

static void chunk_compute(chunk_t *c) { encoder_objective_and_gradients_batch(&c->gm, &c->ds, c->w, &c->f, c->g); }

static void *chunk_thread(void *arg) {
  chunk_compute((chunk_t *)arg);
  return NULL;
}

static void free_chunks(par_t *p) {
  int c;
  for (c = 1; c < p->num_chunks; ++c) {
    if (p->chunks[c].enc.ctx != NULL) crf1dc_delete(p->chunks[c].enc.ctx);
    free(p->chunks[c].enc.features);
    free(p->chunks[c].g);
  }
  free(p->chunks);
  p->chunks = NULL;
  p->num_chunks = 0;
}

/* Allocates `n` chunks (contexts and gradients for chunks 1..n-1). Returns 0, or -1 with p->error set. */
static int alloc_chunks(par_t *p, int n) {
  const int K = p->base.num_features;
  const char *fail = getenv(mlbridge_crf1d_fail_alloc_env);
  int c;
  free_chunks(p);
  p->chunks = (chunk_t *)calloc((size_t)n, sizeof(chunk_t));
  if (p->chunks == NULL) {
    snprintf(p->error, sizeof(p->error), "threads: out of memory allocating %d training chunks", n);
    return -1;
  }
  p->num_chunks = n;
  for (c = 1; c < n; ++c) {
    chunk_t *ch = &p->chunks[c];
    int k;
    ch->enc = p->base;
    ch->enc.ctx = NULL;      /* its own, below */
    ch->enc.features = NULL; /* its own copy, below */
    if (fail != NULL && fail[0] == '1') {
      snprintf(p->error, sizeof(p->error), "threads: out of memory allocating thread %d's buffers (%s is set)", c,
               mlbridge_crf1d_fail_alloc_env);
      free_chunks(p);
      return -1;
    }
    ch->enc.ctx = crf1dc_new(CTXF_MARGINALS | CTXF_VITERBI, p->base.num_labels, p->base.cap_items);
    ch->enc.features = (crf1df_feature_t *)malloc(sizeof(crf1df_feature_t) * (size_t)(K > 0 ? K : 1));
    ch->g = (floatval_t *)malloc(sizeof(floatval_t) * (size_t)(K > 0 ? K : 1));
    if (ch->enc.ctx == NULL || ch->enc.features == NULL || ch->g == NULL) {
      snprintf(p->error, sizeof(p->error),
               "threads: out of memory allocating thread %d's buffers (%d labels, %d items, %d features)", c,
               p->base.num_labels, p->base.cap_items, K);
      free_chunks(p);
      return -1;
    }
    /* The features with no observation counts: CRFsuite's batch objective starts the
       gradient from minus the counts, so this chunk's gradient starts from zero and
       holds its model expectations only (the counts are in chunk 0's). */
    for (k = 0; k < K; ++k) {
      ch->enc.features[k] = p->base.features[k];
      ch->enc.features[k].freq = 0;
    }
  }
  return 0;
}

/* Cuts the training set's order [0, N) into n windows of about equal item counts. */
static void cut_chunks(par_t *p, dataset_t *ds, int n) {
  const int N = ds->num_instances;
  long long total = 0, seen = 0;
  int i, c = 0, begin = 0;
  for (i = 0; i < N; ++i) total += dataset_get(ds, i)->num_items;
  for (i = 0; i < N && c < n - 1; ++i) {
    seen += dataset_get(ds, i)->num_items;
    /* Chunk c ends after the instance that brings the count to (c+1)/n of the total. */
    while (c < n - 1 && seen * n >= total * (c + 1)) {
      p->chunks[c].ds = (dataset_t){ds->data, ds->perm + begin, i + 1 - begin};
      begin = i + 1;
      ++c;
    }
  }
  for (; c < n; ++c) {
    p->chunks[c].ds = (dataset_t){ds->data, ds->perm + begin, N - begin};
    begin = N;
  }
}

static int par_objective_and_gradients_batch(encoder_t *self, dataset_t *ds, const floatval_t *w, floatval_t *f,
                                             floatval_t *g) {
  par_t *p = (par_t *)self->internal;
  const int K = p->base.num_features;
  int n = p->threads < 1 ? 1 : p->threads;
  pthread_t tid[MLBRIDGE_CRF_MAX_THREADS];
  int started[MLBRIDGE_CRF_MAX_THREADS];
  int c, i;

  if (n > MLBRIDGE_CRF_MAX_THREADS) n = MLBRIDGE_CRF_MAX_THREADS;
  if (n > ds->num_instances) n = ds->num_instances;
  if (n <= 1 || p->error[0] != '\0') {
    if (p->error[0] != '\0') {
      for (i = 0; i < K; ++i) g[i] = 0;
      *f = 0;
      return CRFSUITEERR_OUTOFMEMORY;
    }
    return encoder_objective_and_gradients_batch(self, ds, w, f, g);
  }
  if (p->num_chunks != n && alloc_chunks(p, n) != 0) {
    for (i = 0; i < K; ++i) g[i] = 0;
    *f = 0;
    return CRFSUITEERR_OUTOFMEMORY;
  }
  cut_chunks(p, ds, n);

  /* Chunk 0: CRFsuite's encoder and the caller's gradient; chunk c > 0: a copy
     of the encoder over its own context, features and gradient. */
  p->chunks[0].enc = p->base;
  p->chunks[0].g = g;
  for (c = 0; c < n; ++c) {
    chunk_t *ch = &p->chunks[c];
    ch->gm = *self;
    ch->gm.internal = c == 0 ? (void *)&p->base : (void *)&ch->enc;
    ch->w = w;
  }
  for (c = 1; c < n; ++c) started[c] = pthread_create(&tid[c], NULL, chunk_thread, &p->chunks[c]) == 0;
  chunk_compute(&p->chunks[0]);
  for (c = 1; c < n; ++c) {
    if (started[c]) {
      pthread_join(tid[c], NULL);
    } else {
      chunk_compute(&p->chunks[c]);
    }
  }

  /* Partial sums in chunk order. */
  *f = p->chunks[0].f;
  for (c = 1; c < n; ++c) {
    const floatval_t *gc = p->chunks[c].g;
    *f += p->chunks[c].f;
    for (i = 0; i < K; ++i) g[i] += gc[i];
  }
  return 0;
}

static int par_exchange_options(encoder_t *self, crfsuite_params_t *params, int mode) {
  par_t *p = (par_t *)self->internal;
  int ret = crf1de_exchange_options(params, &p->base.opt, mode);
  if (ret != 0) return ret;
  BEGIN_PARAM_MAP(params, mode)
  DDX_PARAM_INT("threads", p->threads, 1,
                "Threads computing the objective and gradients of L-BFGS (1: CRFsuite's own single-threaded code).")
  ret = __ret;
  END_PARAM_MAP()
  return ret;
}

static int par_initialize(encoder_t *self, dataset_t *ds, logging_t *lg) {
  par_t *p = (par_t *)self->internal;
  free_chunks(p); /* sized for the previous data set, if any */
  p->error[0] = '\0';
  return encoder_initialize(self, ds, lg);
}

static void par_release(encoder_t *self) {
  free_chunks((par_t *)self->internal);
  encoder_release(self); /* frees base, i.e. the par_t, and self */
}

/* CRFsuite's encoder, its state moved into a par_t and four functions replaced. */
encoder_t *crf1d_create_encoder(void) {
  encoder_t *self = crf1d_create_encoder_serial();
  par_t *p;
  if (self == NULL) return NULL;
  p = (par_t *)calloc(1, sizeof(par_t));
  if (p == NULL) {
    self->release(self);
    return NULL;
  }
  p->base = *(crf1de_t *)self->internal; /* just initialised: it owns no memory yet */
  free(self->internal);
  self->internal = p;
  p->threads = 1;
  self->exchange_options = par_exchange_options;
  self->initialize = par_initialize;
  self->objective_and_gradients_batch = par_objective_and_gradients_batch;
  self->release = par_release;
  return self;
}

const char *mlbridge_crf1d_error(crfsuite_trainer_t *trainer) {
  crfsuite_train_internal_t *tr;
  par_t *p;
  if (trainer == NULL) return NULL;
  tr = (crfsuite_train_internal_t *)trainer->internal;
  if (tr == NULL || tr->gm == NULL) return NULL;
  p = (par_t *)tr->gm->internal;
  return p != NULL && p->error[0] != '\0' ? p->error : NULL;
}
