/* A stand-in for libtensorflowlite_c.so, for edgeclass's tests only.
 *
 * It implements the TensorFlow Lite C API functions that edgeclass's C
 * backend and github.com/mattn/go-tflite call, so that both can be built and
 * run where Google's library cannot be installed. Models run in a child
 * process, tflite-standin-server (./server), on edgeclass's own pure-Go
 * engine: a Go c-shared library would put a second Go runtime into the Go
 * program that loads this one, which Go does not support. Input and output
 * tensors live in memory shared with that process.
 *
 * Delegates are applied as the real runtime applies them: each one's Prepare
 * sees the execution plan and may replace nodes with delegate kernels, whose
 * init, prepare, invoke and free are called. The whole graph still runs on
 * the server: a stand-in delegate's kernels compute nothing (see
 * delegates.c). What this proves and what it cannot: docs/tflite-c.md. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tensorflow/lite/c/c_api.h"
#include "tensorflow/lite/c/c_api_experimental.h"

extern char** environ;

#define STANDIN_VERSION "0.0.0-edgeclass-standin"
#define SERVER_NAME "tflite-standin-server"
#define MAX_DELEGATES 16
#define ALIGN 64

struct TfLiteModel {
  char* data;
  size_t size;
};

typedef void (*reporter_fn)(void* user_data, const char* format, va_list args);

struct TfLiteInterpreterOptions {
  int threads;
  TfLiteDelegate* delegates[MAX_DELEGATES];
  int ndelegates;
  reporter_fn reporter;
  void* reporter_data;
  int op_registrations;
};

/* A node of the graph: one of the model's operators, or a delegate kernel
 * that replaced some of them. */
typedef struct node {
  TfLiteNode node;
  TfLiteRegistration reg;
  char* name;                    /* owned copy of reg.custom_name */
  TfLiteDelegateParams* params;  /* delegate kernels only */
} node;

struct TfLiteInterpreter {
  int sock;
  pid_t pid;
  reporter_fn reporter;
  void* reporter_data;
  int runnable;   /* the server could build an interpreter for the model */
  char* why_not;  /* its error when it could not */
  node** nodes;
  int nnodes, cap;
  TfLiteIntArray* plan;
  TfLiteContext ctx;
  TfLiteTensor* tensors; /* inputs, then outputs */
  int ninputs, noutputs;
  char* shm;
  size_t shm_size;
};

/* ---- error reporting: the options' reporter gets format and va_list ---- */

static void vreport(reporter_fn fn, void* data, const char* format, va_list args) {
  if (fn) {
    fn(data, format, args);
    return;
  }
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
}

static void report(reporter_fn fn, void* data, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vreport(fn, data, format, args);
  va_end(args);
}

static void context_report(TfLiteContext* ctx, const char* format, ...) {
  struct TfLiteInterpreter* it = ctx->impl_;
  va_list args;
  va_start(args, format);
  vreport(it->reporter, it->reporter_data, format, args);
  va_end(args);
}

/* ---- small things ---- */

const char* TfLiteVersion(void) { return STANDIN_VERSION; }

TfLiteIntArray* TfLiteIntArrayCreate(int size) {
  TfLiteIntArray* a = calloc(1, sizeof(TfLiteIntArray) + sizeof(int) * (size_t)(size > 0 ? size : 0));
  if (a) a->size = size;
  return a;
}

void TfLiteIntArrayFree(TfLiteIntArray* a) { free(a); }

static size_t align_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

/* ---- the wire to the server: little-endian native values, strings as
 * u32 length + bytes ---- */

static int send_all(int fd, const void* p, size_t n) {
  const char* b = p;
  while (n > 0) {
    ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    b += k;
    n -= (size_t)k;
  }
  return 0;
}

static int recv_all(int fd, void* p, size_t n) {
  char* b = p;
  while (n > 0) {
    ssize_t k = recv(fd, b, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    b += k;
    n -= (size_t)k;
  }
  return 0;
}

static int recv_u32(int fd, uint32_t* v) { return recv_all(fd, v, sizeof *v); }

static char* recv_str(int fd) {
  uint32_t n;
  if (recv_u32(fd, &n) || n > (1u << 20)) return NULL;
  char* s = malloc(n + 1);
  if (!s) return NULL;
  if (recv_all(fd, s, n)) {
    free(s);
    return NULL;
  }
  s[n] = 0;
  return s;
}

/* ---- models ---- */

TfLiteModel* TfLiteModelCreate(const void* data, size_t size) {
  /* A flatbuffer with the "TFL3" identifier; the server validates the rest
   * when an interpreter is created. */
  if (!data || size < 8 || memcmp((const char*)data + 4, "TFL3", 4) != 0) return NULL;
  TfLiteModel* m = calloc(1, sizeof *m);
  if (!m || !(m->data = malloc(size))) {
    free(m);
    return NULL;
  }
  memcpy(m->data, data, size);
  m->size = size;
  return m;
}

TfLiteModel* TfLiteModelCreateFromFile(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  TfLiteModel* m = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    char* buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fseek(f, 0, SEEK_SET) == 0 && fread(buf, 1, (size_t)n, f) == (size_t)n)
      m = TfLiteModelCreate(buf, (size_t)n);
    free(buf);
  }
  fclose(f);
  return m;
}

void TfLiteModelDelete(TfLiteModel* m) {
  if (!m) return;
  free(m->data);
  free(m);
}

/* ---- options ---- */

TfLiteInterpreterOptions* TfLiteInterpreterOptionsCreate(void) {
  TfLiteInterpreterOptions* o = calloc(1, sizeof *o);
  if (o) o->threads = 1;
  return o;
}

void TfLiteInterpreterOptionsDelete(TfLiteInterpreterOptions* o) { free(o); }

void TfLiteInterpreterOptionsSetNumThreads(TfLiteInterpreterOptions* o, int32_t n) {
  o->threads = n < 1 ? 1 : n;
}

void TfLiteInterpreterOptionsAddDelegate(TfLiteInterpreterOptions* o, TfLiteDelegate* d) {
  if (o->ndelegates < MAX_DELEGATES) o->delegates[o->ndelegates++] = d;
}

void TfLiteInterpreterOptionsSetErrorReporter(TfLiteInterpreterOptions* o, reporter_fn fn,
                                              void* data) {
  o->reporter = fn;
  o->reporter_data = data;
}

void TfLiteInterpreterOptionsAddBuiltinOp(TfLiteInterpreterOptions* o, TfLiteBuiltinOperator op,
                                          const TfLiteRegistration* r, int32_t min, int32_t max) {
  (void)op, (void)r, (void)min, (void)max;
  o->op_registrations++;
}

void TfLiteInterpreterOptionsAddCustomOp(TfLiteInterpreterOptions* o, const char* name,
                                         const TfLiteRegistration* r, int32_t min, int32_t max) {
  (void)name, (void)r, (void)min, (void)max;
  o->op_registrations++;
}

void TfLiteInterpreterOptionsSetUseNNAPI(TfLiteInterpreterOptions* o, bool enable) {
  (void)o, (void)enable; /* NNAPI is Android's; there is none here */
}

/* ---- the graph seen by delegates ---- */

static node* add_node(struct TfLiteInterpreter* it) {
  if (it->nnodes == it->cap) {
    int cap = it->cap ? 2 * it->cap : 16;
    node** n = realloc(it->nodes, sizeof *n * (size_t)cap);
    if (!n) return NULL;
    it->nodes = n;
    it->cap = cap;
  }
  node* n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->node.inputs = TfLiteIntArrayCreate(0);
  n->node.outputs = TfLiteIntArrayCreate(0);
  n->node.intermediates = TfLiteIntArrayCreate(0);
  n->node.temporaries = TfLiteIntArrayCreate(0);
  it->nodes[it->nnodes++] = n;
  return n;
}

static TfLiteStatus get_plan(TfLiteContext* ctx, TfLiteIntArray** plan) {
  *plan = ((struct TfLiteInterpreter*)ctx->impl_)->plan;
  return kTfLiteOk;
}

static TfLiteStatus get_node(TfLiteContext* ctx, int index, TfLiteNode** n,
                             TfLiteRegistration** r) {
  struct TfLiteInterpreter* it = ctx->impl_;
  if (index < 0 || index >= it->nnodes) {
    context_report(ctx, "node %d does not exist (the graph has %d)", index, it->nnodes);
    return kTfLiteError;
  }
  *n = &it->nodes[index]->node;
  *r = &it->nodes[index]->reg;
  return kTfLiteOk;
}

static int in_list(const TfLiteIntArray* a, int v) {
  for (int i = 0; i < a->size; i++)
    if (a->data[i] == v) return 1;
  return 0;
}

/* Replaces each run of consecutive planned nodes listed in replace with one
 * delegate kernel, as the real runtime partitions (it also merges runs that
 * are independent of the nodes between them; the stand-in does not). */
static TfLiteStatus replace_nodes(TfLiteContext* ctx, TfLiteRegistration reg,
                                  const TfLiteIntArray* replace, TfLiteDelegate* delegate) {
  struct TfLiteInterpreter* it = ctx->impl_;
  for (int i = 0; i < replace->size; i++) {
    if (!in_list(it->plan, replace->data[i])) {
      context_report(ctx, "delegate asked to replace node %d, which is not in the execution plan",
                     replace->data[i]);
      return kTfLiteError;
    }
  }
  TfLiteIntArray* plan = TfLiteIntArrayCreate(it->plan->size);
  if (!plan) return kTfLiteError;
  plan->size = 0;
  for (int i = 0; i < it->plan->size;) {
    int idx = it->plan->data[i];
    if (!in_list(replace, idx)) {
      plan->data[plan->size++] = idx;
      i++;
      continue;
    }
    int j = i;
    while (j < it->plan->size && in_list(replace, it->plan->data[j])) j++;
    node* k = add_node(it);
    TfLiteDelegateParams* p = calloc(1, sizeof *p);
    if (!k || !p) {
      free(p);
      TfLiteIntArrayFree(plan);
      return kTfLiteError;
    }
    p->delegate = delegate;
    p->nodes_to_replace = TfLiteIntArrayCreate(j - i);
    for (int t = i; t < j; t++) p->nodes_to_replace->data[t - i] = it->plan->data[t];
    p->input_tensors = TfLiteIntArrayCreate(0);
    p->output_tensors = TfLiteIntArrayCreate(0);
    k->params = p;
    k->reg = reg;
    k->reg.builtin_code = kTfLiteBuiltinDelegate;
    k->name = strdup(reg.custom_name ? reg.custom_name : "delegate");
    k->reg.custom_name = k->name;
    k->node.builtin_data = p;
    k->node.delegate = delegate;
    if (reg.init) k->node.user_data = reg.init(ctx, (const char*)p, 0);
    if (reg.prepare && reg.prepare(ctx, &k->node) != kTfLiteOk) {
      context_report(ctx, "Node number %d (%s) failed to prepare.", it->nnodes - 1, k->name);
      TfLiteIntArrayFree(plan);
      return kTfLiteError;
    }
    plan->data[plan->size++] = it->nnodes - 1;
    i = j;
  }
  TfLiteIntArrayFree(it->plan);
  it->plan = plan;
  return kTfLiteOk;
}

/* ---- the server ---- */

static char* server_path(void) {
  const char* env = getenv("TFLITE_STANDIN_SERVER");
  if (env && *env) return strdup(env);
  Dl_info info;
  if (!dladdr((void*)TfLiteVersion, &info) || !info.dli_fname) return NULL;
  char* lib = strdup(info.dli_fname);
  if (!lib) return NULL;
  char* path = malloc(strlen(lib) + sizeof(SERVER_NAME) + 2);
  if (path) sprintf(path, "%s/%s", dirname(lib), SERVER_NAME);
  free(lib);
  return path;
}

static int start_server(struct TfLiteInterpreter* it) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return -1;
  if (sv[1] == 3) { /* dup2(3, 3) would keep close-on-exec set */
    int fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
    close(sv[1]);
    sv[1] = fd;
  }
  char* path = server_path();
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char* argv[] = {(char*)SERVER_NAME, NULL};
  int err = path ? posix_spawn(&it->pid, path, &fa, &attr, argv, environ) : ENOENT;
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(sv[1]);
  if (err) {
    report(it->reporter, it->reporter_data, "stand-in: cannot start %s: %s",
           path ? path : SERVER_NAME, strerror(err));
    free(path);
    close(sv[0]);
    return -1;
  }
  free(path);
  it->sock = sv[0];
  return 0;
}

/* Sends the model; reads the operators and the input and output tensors.
 * Returns -2 when the server refused the model (reported), -1 when the
 * connection failed. */
static int load(struct TfLiteInterpreter* it, const TfLiteModel* m, int threads) {
  uint8_t cmd = 'L';
  int32_t t = threads;
  uint64_t size = m->size;
  if (send_all(it->sock, &cmd, 1) || send_all(it->sock, &t, 4) || send_all(it->sock, &size, 8) ||
      send_all(it->sock, m->data, m->size))
    return -1;
  uint32_t status, nops, nin, nout;
  char* err = NULL;
  if (recv_u32(it->sock, &status) || !(err = recv_str(it->sock))) return -1;
  if (status == 2) {
    report(it->reporter, it->reporter_data, "%s", err);
    free(err);
    return -2;
  }
  it->runnable = status == 0;
  it->why_not = err;
  if (recv_u32(it->sock, &nops)) return -1;
  for (uint32_t i = 0; i < nops; i++) {
    int32_t code;
    char* custom;
    node* n;
    if (recv_all(it->sock, &code, 4) || !(custom = recv_str(it->sock))) return -1;
    if (!(n = add_node(it))) {
      free(custom);
      return -1;
    }
    n->reg.builtin_code = code;
    n->reg.version = 1;
    if (code == kTfLiteBuiltinCustom) {
      n->name = custom;
      n->reg.custom_name = custom;
    } else {
      free(custom);
    }
  }
  if (!(it->plan = TfLiteIntArrayCreate((int)nops))) return -1;
  for (uint32_t i = 0; i < nops; i++) it->plan->data[i] = (int)i;
  if (recv_u32(it->sock, &nin) || recv_u32(it->sock, &nout) || nin + nout > 4096) return -1;
  it->ninputs = (int)nin;
  it->noutputs = (int)nout;
  if (!(it->tensors = calloc(nin + nout + 1, sizeof *it->tensors))) return -1;
  for (uint32_t i = 0; i < nin + nout; i++) {
    TfLiteTensor* tt = &it->tensors[i];
    int32_t type, zp;
    uint32_t ndims;
    float scale;
    uint64_t bytes;
    if (!(tt->name = recv_str(it->sock)) || recv_all(it->sock, &type, 4) ||
        recv_u32(it->sock, &ndims) || ndims > 16 || !(tt->dims = TfLiteIntArrayCreate((int)ndims)) ||
        recv_all(it->sock, tt->dims->data, 4 * ndims) || recv_all(it->sock, &scale, 4) ||
        recv_all(it->sock, &zp, 4) || recv_all(it->sock, &bytes, 8))
      return -1;
    tt->type = (TfLiteType)type;
    tt->params.scale = scale;
    tt->params.zero_point = zp;
    tt->bytes = bytes;
    tt->allocation_type = kTfLiteArenaRw;
    tt->buffer_handle = kTfLiteNullBufferHandle;
  }
  return 0;
}

/* Lays the input and output tensors out in shared memory and hands it to
 * the server. */
static int share_tensors(struct TfLiteInterpreter* it) {
  int n = it->ninputs + it->noutputs;
  size_t total = ALIGN;
  for (int i = 0; i < n; i++) total += align_up(it->tensors[i].bytes);
  int fd = memfd_create("tflite-standin", MFD_CLOEXEC);
  if (fd < 0) return -1;
  if (ftruncate(fd, (off_t)total) ||
      (it->shm = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
    it->shm = NULL;
    close(fd);
    return -1;
  }
  it->shm_size = total;
  uint64_t* offsets = calloc((size_t)n + 1, sizeof *offsets);
  if (!offsets) {
    close(fd);
    return -1;
  }
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    offsets[i] = off;
    it->tensors[i].data.raw = it->shm + off;
    off += align_up(it->tensors[i].bytes);
  }
  uint8_t cmd = 'M';
  struct iovec iov = {.iov_base = &cmd, .iov_len = 1};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  uint64_t size = total;
  uint32_t status = 1;
  int rc = sendmsg(it->sock, &msg, MSG_NOSIGNAL) != 1 || send_all(it->sock, &size, 8) ||
           send_all(it->sock, offsets, 8 * (size_t)n) || recv_u32(it->sock, &status) || status;
  free(offsets);
  close(fd);
  return rc ? -1 : 0;
}

/* ---- interpreters ---- */

void TfLiteInterpreterDelete(TfLiteInterpreter* it) {
  if (!it) return;
  for (int i = 0; i < it->nnodes; i++) {
    node* n = it->nodes[i];
    if (n->params && n->reg.free) n->reg.free(&it->ctx, n->node.user_data);
    if (n->params) {
      TfLiteIntArrayFree(n->params->nodes_to_replace);
      TfLiteIntArrayFree(n->params->input_tensors);
      TfLiteIntArrayFree(n->params->output_tensors);
      free(n->params);
    }
    TfLiteIntArrayFree(n->node.inputs);
    TfLiteIntArrayFree(n->node.outputs);
    TfLiteIntArrayFree(n->node.intermediates);
    TfLiteIntArrayFree(n->node.temporaries);
    free(n->name);
    free(n);
  }
  free(it->nodes);
  TfLiteIntArrayFree(it->plan);
  if (it->sock >= 0) close(it->sock); /* the server exits when the socket closes */
  if (it->pid > 0)
    while (waitpid(it->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  if (it->tensors)
    for (int i = 0; i < it->ninputs + it->noutputs; i++) {
      free((char*)it->tensors[i].name);
      TfLiteIntArrayFree(it->tensors[i].dims);
    }
  free(it->tensors);
  if (it->shm) munmap(it->shm, it->shm_size);
  free(it->why_not);
  free(it);
}

TfLiteInterpreter* TfLiteInterpreterCreate(const TfLiteModel* model,
                                           const TfLiteInterpreterOptions* o) {
  if (!model) return NULL;
  struct TfLiteInterpreter* it = calloc(1, sizeof *it);
  if (!it) return NULL;
  it->sock = -1;
  if (o) {
    it->reporter = o->reporter;
    it->reporter_data = o->reporter_data;
  }
  if (o && o->op_registrations) {
    report(it->reporter, it->reporter_data,
           "stand-in: operator registrations (AddBuiltinOp, AddCustomOp) are not supported");
    goto fail;
  }
  if (start_server(it)) goto fail;
  int rc = load(it, model, o ? o->threads : 1);
  if (rc == -2) goto fail;
  if (rc || share_tensors(it)) goto broken;

  it->ctx.impl_ = it;
  it->ctx.GetExecutionPlan = get_plan;
  it->ctx.GetNodeAndRegistration = get_node;
  it->ctx.ReplaceNodeSubsetsWithDelegateKernels = replace_nodes;
  it->ctx.ReportError = context_report;
  it->ctx.recommended_num_threads = o ? o->threads : 1;
  for (int i = 0; o && i < o->ndelegates; i++) {
    TfLiteDelegate* d = o->delegates[i];
    if (d->Prepare(&it->ctx, d) != kTfLiteOk) {
      report(it->reporter, it->reporter_data, "stand-in: delegate %d (of %d) failed to prepare", i + 1,
             o->ndelegates);
      goto fail;
    }
  }
  if (!it->runnable) {
    /* Like the real runtime, unresolved custom operators only fail when no
     * delegate took them. */
    int delegated = 0;
    for (int i = 0; i < it->plan->size; i++) {
      const TfLiteRegistration* r = &it->nodes[it->plan->data[i]]->reg;
      if (r->builtin_code == kTfLiteBuiltinCustom) {
        report(it->reporter, it->reporter_data, "Encountered unresolved custom op: %s.",
               r->custom_name);
        goto fail;
      }
      if (r->builtin_code == kTfLiteBuiltinDelegate) delegated = 1;
    }
    if (!delegated) {
      report(it->reporter, it->reporter_data, "%s", it->why_not);
      goto fail;
    }
  }
  return it;

broken:
  report(it->reporter, it->reporter_data, "stand-in: lost the connection to %s", SERVER_NAME);
fail:
  TfLiteInterpreterDelete(it);
  return NULL;
}

int32_t TfLiteInterpreterGetInputTensorCount(const TfLiteInterpreter* it) { return it->ninputs; }

int32_t TfLiteInterpreterGetOutputTensorCount(const TfLiteInterpreter* it) { return it->noutputs; }

TfLiteTensor* TfLiteInterpreterGetInputTensor(const TfLiteInterpreter* it, int32_t i) {
  return i >= 0 && i < it->ninputs ? &it->tensors[i] : NULL;
}

const TfLiteTensor* TfLiteInterpreterGetOutputTensor(const TfLiteInterpreter* it, int32_t i) {
  return i >= 0 && i < it->noutputs ? &it->tensors[it->ninputs + i] : NULL;
}

TfLiteStatus TfLiteInterpreterResizeInputTensor(TfLiteInterpreter* it, int32_t i, const int* dims,
                                                int32_t ndims) {
  TfLiteTensor* t = TfLiteInterpreterGetInputTensor(it, i);
  if (t && ndims == t->dims->size && memcmp(dims, t->dims->data, sizeof(int) * (size_t)ndims) == 0)
    return kTfLiteOk;
  report(it->reporter, it->reporter_data, "stand-in: input %d cannot be resized", i);
  return kTfLiteError;
}

TfLiteStatus TfLiteInterpreterAllocateTensors(TfLiteInterpreter* it) {
  (void)it; /* planned at creation */
  return kTfLiteOk;
}

TfLiteStatus TfLiteInterpreterInvoke(TfLiteInterpreter* it) {
  for (int i = 0; i < it->plan->size; i++) {
    node* n = it->nodes[it->plan->data[i]];
    if (n->params && n->reg.invoke && n->reg.invoke(&it->ctx, &n->node) != kTfLiteOk) {
      report(it->reporter, it->reporter_data, "Node number %d (%s) failed to invoke.",
             it->plan->data[i], n->name);
      return kTfLiteError;
    }
  }
  if (!it->runnable) {
    report(it->reporter, it->reporter_data, "stand-in: the model cannot run here: %s", it->why_not);
    return kTfLiteError;
  }
  uint8_t cmd = 'I';
  uint32_t status;
  char* err;
  if (send_all(it->sock, &cmd, 1) || recv_u32(it->sock, &status) || !(err = recv_str(it->sock))) {
    report(it->reporter, it->reporter_data, "stand-in: lost the connection to %s", SERVER_NAME);
    return kTfLiteError;
  }
  if (status) report(it->reporter, it->reporter_data, "%s", err);
  free(err);
  return status ? kTfLiteError : kTfLiteOk;
}

TfLiteStatus TfLiteInterpreterResetVariableTensors(TfLiteInterpreter* it) {
  report(it->reporter, it->reporter_data, "stand-in: variable tensors are not supported");
  return kTfLiteError;
}

/* ---- tensors ---- */

TfLiteType TfLiteTensorType(const TfLiteTensor* t) { return t->type; }
int32_t TfLiteTensorNumDims(const TfLiteTensor* t) { return t->dims->size; }
int32_t TfLiteTensorDim(const TfLiteTensor* t, int32_t i) { return t->dims->data[i]; }
size_t TfLiteTensorByteSize(const TfLiteTensor* t) { return t->bytes; }
void* TfLiteTensorData(const TfLiteTensor* t) { return t->data.data; }
const char* TfLiteTensorName(const TfLiteTensor* t) { return t->name; }
TfLiteQuantizationParams TfLiteTensorQuantizationParams(const TfLiteTensor* t) { return t->params; }

TfLiteStatus TfLiteTensorCopyFromBuffer(TfLiteTensor* t, const void* p, size_t n) {
  if (n != t->bytes) return kTfLiteError;
  memcpy(t->data.raw, p, n);
  return kTfLiteOk;
}

TfLiteStatus TfLiteTensorCopyToBuffer(const TfLiteTensor* t, void* p, size_t n) {
  if (n != t->bytes) return kTfLiteError;
  memcpy(p, t->data.raw, n);
  return kTfLiteOk;
}
