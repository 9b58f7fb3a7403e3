/*
 * CRFsuite's L-BFGS objective computed on several threads.
 *
 * CRFsuite comes from the pinned npm package and is neither copied into this
 * repository nor patched: its crf1d_encode.c is compiled as it is, with its
 * constructor renamed to crf1d_create_encoder_serial (binding.gyp, target
 * crfsuite_encode), and this file provides the crf1d_create_encoder that
 * CRFsuite's trainer calls. It uses CRFsuite's encoders through their public
 * function table (crfsuite_internal.h) only:
 *
 *   - the trainer's encoder is CRFsuite's, with one parameter more, "threads"
 *     (default 1), read like CRFsuite's own through the trainer's parameter
 *     object;
 *   - with threads = n > 1, initialising it also makes n - 1 more of
 *     CRFsuite's encoders with the same options, each initialised on the same
 *     training set on a thread of its own while the trainer's is initialised
 *     (so they hold the same features, in the same order, each with its own
 *     forward-backward context);
 *   - objective_and_gradients_batch (what train_lbfgs.c calls once per
 *     evaluation) cuts the training instances into n contiguous windows of
 *     about equal item counts and runs CRFsuite's own batch objective once per
 *     window, concurrently: window 0 on the calling thread with the trainer's
 *     encoder, into the caller's gradient; window c > 0 on its own thread with
 *     encoder c, into a gradient of its own. CRFsuite's batch objective starts
 *     a gradient from minus the observation counts of the whole set, which
 *     belong in the sum once: they are taken out of the windows c > 0 (the
 *     counts come from one call of the batch objective over no instance).
 *     The objectives and gradients are added in window order.
 *
 * A run is deterministic for a given thread count (the cut depends only on the
 * data and the count; a window's sums do not depend on the OS thread that
 * computes it). threads = 1 is CRFsuite's encoder unchanged: the model is
 * byte-identical to CRFsuite's.
 *
 * Failures: if the encoders of the windows cannot be made, the evaluations
 * return a zero gradient (L-BFGS stops at once: "already minimised") and the
 * error is kept, which the addon's training worker reads with
 * mlbridge_crf_threads_error() and turns into a failed training; no model is
 * kept. A thread that cannot be started has its work done on the calling
 * thread instead (same sums, same result).
 *
 * The online algorithms (l2sgd, ap, pa, arow) never call the batch function:
 * "threads" does not change them (packages/core offers it for lbfgs only).
 */
#include "crf_threads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crfsuite_internal.h"
#include "params.h"

encoder_t *crf1d_create_encoder_serial(void);

/* A window of the training instances and what its thread computes. */
typedef struct {
  encoder_t *enc;      /* c > 0: encoder c (window 0 is the trainer's, unused here) */
  dataset_t ds;        /* the window: a part of the training set's order */
  floatval_t *g;       /* its gradient (window 0: the caller's) */
  const floatval_t *w; /* the weights being evaluated */
  floatval_t f;        /* its objective (minus its log-likelihood) */
  dataset_t *trainset; /* encoder c's initialisation: the training set */
  int ret;             /* encoder c's initialisation: CRFsuite's status */
} window_t;

/* The trainer's encoder: CRFsuite's (first, so that CRFsuite's functions, which
   read `internal`, and its release, which frees the struct, see theirs), four
   of its functions replaced, and the windows. */
typedef struct {
  encoder_t gm;
  encoder_t serial;          /* CRFsuite's function table, as made */
  crfsuite_params_t *params; /* the trainer's, from the last exchange_options */
  int threads;               /* the "threads" parameter */
  int num_windows;           /* 0 until initialised with threads > 1 */
  window_t *windows;         /* [num_windows] */
  floatval_t *neg_counts;    /* minus the observation counts, per feature */
  char error[200];           /* set when the windows could not be made */
} par_t;

/* Set to 1 in a training's environment, makes the encoder of window 1 fail to
   be made: how the tests check that such a failure fails the training. */
static const char fail_alloc_env[] = "MLBRIDGE_TEST_FAIL_TRAIN_THREAD_ALLOC";

static void window_compute(window_t *win) {
  win->enc->objective_and_gradients_batch(win->enc, &win->ds, win->w, &win->f, win->g);
}

static void *window_thread(void *arg) {
  window_compute((window_t *)arg);
  return NULL;
}

static void *window_init_thread(void *arg) {
  window_t *win = (window_t *)arg;
  logging_t quiet = {NULL, NULL, 0}; /* the trainer's encoder logs feature generation once */
  win->ret = win->enc->initialize(win->enc, win->trainset, &quiet);
  return NULL;
}

static void free_windows(par_t *p) {
  int c;
  for (c = 1; c < p->num_windows; ++c) {
    if (p->windows[c].enc != NULL) p->windows[c].enc->release(p->windows[c].enc);
    free(p->windows[c].g);
  }
  free(p->windows);
  free(p->neg_counts);
  p->windows = NULL;
  p->neg_counts = NULL;
  p->num_windows = 0;
}

/* Makes encoders 1..n-1 with the trainer's options (to be initialised). Returns 0, or -1 with p->error set. */
static int make_windows(par_t *p, int n) {
  const char *fail = getenv(fail_alloc_env);
  int c;
  p->windows = (window_t *)calloc((size_t)n, sizeof(window_t));
  if (p->windows == NULL) {
    snprintf(p->error, sizeof(p->error), "threads: out of memory allocating %d training windows", n);
    return -1;
  }
  p->num_windows = n;
  for (c = 1; c < n; ++c) {
    window_t *win = &p->windows[c];
    if (fail != NULL && fail[0] == '1') {
      snprintf(p->error, sizeof(p->error), "threads: out of memory allocating thread %d's buffers (%s is set)", c,
               fail_alloc_env);
      return -1;
    }
    win->enc = crf1d_create_encoder_serial();
    if (win->enc == NULL || win->enc->internal == NULL) {
      if (win->enc != NULL) free(win->enc);
      win->enc = NULL;
      snprintf(p->error, sizeof(p->error), "threads: out of memory allocating thread %d's buffers", c);
      return -1;
    }
    if (p->params != NULL) win->enc->exchange_options(win->enc, p->params, -1);
  }
  return 0;
}

/* Checks the windows' encoders after their initialisation and allocates what the
   evaluations need. Returns 0, or -1 with p->error set. */
static int check_windows(par_t *p, dataset_t *ds) {
  const int K = p->gm.num_features;
  dataset_t none = {ds->data, ds->perm, 0};
  floatval_t f;
  floatval_t *w;
  int c;
  for (c = 1; c < p->num_windows; ++c) {
    window_t *win = &p->windows[c];
    if (win->ret != 0 || win->enc->num_features != K) {
      snprintf(p->error, sizeof(p->error),
               "threads: thread %d's encoder could not be initialised (status %d, %d features of %d)", c, win->ret,
               win->enc->num_features, K);
      return -1;
    }
    win->g = (floatval_t *)malloc(sizeof(floatval_t) * (size_t)(K > 0 ? K : 1));
    if (win->g == NULL) {
      snprintf(p->error, sizeof(p->error), "threads: out of memory allocating thread %d's buffers (%d features)", c, K);
      return -1;
    }
  }
  p->neg_counts = (floatval_t *)malloc(sizeof(floatval_t) * (size_t)(K > 0 ? K : 1));
  w = (floatval_t *)calloc((size_t)(K > 0 ? K : 1), sizeof(floatval_t));
  if (p->neg_counts == NULL || w == NULL) {
    free(w);
    snprintf(p->error, sizeof(p->error), "threads: out of memory allocating the counts of %d features", K);
    return -1;
  }
  /* CRFsuite's batch objective over no instance: the gradient it starts from. */
  p->serial.objective_and_gradients_batch(&p->gm, &none, w, &f, p->neg_counts);
  free(w);
  return 0;
}

/* Cuts the training set's order [0, N) into n windows of about equal item counts. */
static void cut_windows(par_t *p, dataset_t *ds, int n) {
  const int N = ds->num_instances;
  long long total = 0, seen = 0;
  int i, c = 0, begin = 0;
  for (i = 0; i < N; ++i) total += dataset_get(ds, i)->num_items;
  for (i = 0; i < N && c < n - 1; ++i) {
    seen += dataset_get(ds, i)->num_items;
    /* Window c ends after the instance that brings the count to (c+1)/n of the total. */
    while (c < n - 1 && seen * n >= total * (c + 1)) {
      p->windows[c].ds = (dataset_t){ds->data, ds->perm + begin, i + 1 - begin};
      begin = i + 1;
      ++c;
    }
  }
  for (; c < n; ++c) {
    p->windows[c].ds = (dataset_t){ds->data, ds->perm + begin, N - begin};
    begin = N;
  }
}

static int par_objective_and_gradients_batch(encoder_t *self, dataset_t *ds, const floatval_t *w, floatval_t *f,
                                             floatval_t *g) {
  par_t *p = (par_t *)self;
  const int K = self->num_features;
  const int n = p->num_windows < ds->num_instances ? p->num_windows : ds->num_instances;
  pthread_t tid[MLBRIDGE_CRF_MAX_THREADS];
  int started[MLBRIDGE_CRF_MAX_THREADS];
  int c, i;

  if (p->error[0] != '\0') {
    for (i = 0; i < K; ++i) g[i] = 0;
    *f = 0;
    return CRFSUITEERR_OUTOFMEMORY;
  }
  if (n <= 1) return p->serial.objective_and_gradients_batch(self, ds, w, f, g);
  cut_windows(p, ds, n);
  p->windows[0].g = g;
  for (c = 0; c < n; ++c) p->windows[c].w = w;
  /* Window 0 through the function CRFsuite made, not this one. */
  for (c = 1; c < n; ++c) started[c] = pthread_create(&tid[c], NULL, window_thread, &p->windows[c]) == 0;
  p->serial.objective_and_gradients_batch(self, &p->windows[0].ds, w, &p->windows[0].f, g);
  for (c = 1; c < n; ++c) {
    if (started[c]) {
      pthread_join(tid[c], NULL);
    } else {
      window_compute(&p->windows[c]);
    }
  }

  /* Partial sums in window order; windows c > 0 without the counts. */
  *f = p->windows[0].f;
  for (c = 1; c < n; ++c) {
    const floatval_t *gc = p->windows[c].g;
    *f += p->windows[c].f;
    for (i = 0; i < K; ++i) g[i] += gc[i] - p->neg_counts[i];
  }
  return 0;
}

static int par_exchange_options(encoder_t *self, crfsuite_params_t *params, int mode) {
  par_t *p = (par_t *)self;
  int ret = p->serial.exchange_options(self, params, mode);
  if (ret != 0) return ret;
  p->params = params;
  BEGIN_PARAM_MAP(params, mode)
  DDX_PARAM_INT("threads", p->threads, 1,
                "Threads computing the objective and gradients of L-BFGS (1: CRFsuite's own single-threaded code).")
  ret = __ret;
  END_PARAM_MAP()
  return ret;
}

static int par_initialize(encoder_t *self, dataset_t *ds, logging_t *lg) {
  par_t *p = (par_t *)self;
  pthread_t tid[MLBRIDGE_CRF_MAX_THREADS];
  int started[MLBRIDGE_CRF_MAX_THREADS];
  int n = p->threads, c, ret;
  free_windows(p); /* made for the previous data set, if any */
  p->error[0] = '\0';
  if (n > MLBRIDGE_CRF_MAX_THREADS) n = MLBRIDGE_CRF_MAX_THREADS;
  if (n > ds->num_instances) n = ds->num_instances;
  if (n <= 1) return p->serial.initialize(self, ds, lg);
  if (make_windows(p, n) != 0) {
    free_windows(p);
    return p->serial.initialize(self, ds, lg);
  }
  /* Encoders 1..n-1 are initialised on threads of their own meanwhile. */
  for (c = 1; c < n; ++c) {
    p->windows[c].trainset = ds;
    started[c] = pthread_create(&tid[c], NULL, window_init_thread, &p->windows[c]) == 0;
  }
  ret = p->serial.initialize(self, ds, lg);
  for (c = 1; c < n; ++c) {
    if (started[c]) {
      pthread_join(tid[c], NULL);
    } else {
      window_init_thread(&p->windows[c]);
    }
  }
  if (ret == 0 && check_windows(p, ds) != 0) free_windows(p);
  return ret;
}

static void par_release(encoder_t *self) {
  par_t *p = (par_t *)self;
  free_windows(p);
  p->serial.release(self); /* frees CRFsuite's state and the par_t (its first member is self) */
}

/* CRFsuite's encoder, moved into a par_t, four of its functions replaced. */
encoder_t *crf1d_create_encoder(void) {
  encoder_t *serial = crf1d_create_encoder_serial();
  par_t *p;
  if (serial == NULL) return NULL;
  p = (par_t *)calloc(1, sizeof(par_t));
  if (p == NULL) {
    serial->release(serial);
    return NULL;
  }
  p->gm = *serial;
  p->serial = *serial;
  free(serial); /* the shell only: its state now belongs to p->gm */
  p->threads = 1;
  p->gm.exchange_options = par_exchange_options;
  p->gm.initialize = par_initialize;
  p->gm.objective_and_gradients_batch = par_objective_and_gradients_batch;
  p->gm.release = par_release;
  return &p->gm;
}

const char *mlbridge_crf_threads_error(crfsuite_trainer_t *trainer) {
  crfsuite_train_internal_t *tr;
  const par_t *p;
  if (trainer == NULL) return NULL;
  tr = (crfsuite_train_internal_t *)trainer->internal;
  if (tr == NULL || tr->gm == NULL) return NULL;
  p = (const par_t *)tr->gm;
  return p->error[0] != '\0' ? p->error : NULL;
}
