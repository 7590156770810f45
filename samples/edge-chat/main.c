/* edge-chat: a chat program for small ARM boards and phones, on mote's public C API only
 * (mote/mote.h, libmote.so). Copy it as the start of an app.
 *
 *   edge-chat [options] MODEL.mote   < turns.txt
 *
 * What it shows, in order:
 *   1. open_model: the expert budget is planned by the library from the memory this device has
 *      free (MOTE_EXPERT_BUDGET_AUTO: MemAvailable, or the cgroup limit minus usage, whichever is
 *      lower), and the plan is printed;
 *   2. the chat loop in main: one user turn per input line; the whole conversation goes to
 *      mote_chat_generate each turn (the library applies the model's chat template and evaluates
 *      only the tokens the session does not already hold); tokens are streamed as they come;
 *   3. print_turn_stats / print_expert_stats: context and expert-cache figures after each turn;
 *   4. cancellation from another thread: Ctrl-C (SIGINT), SIGTERM or a watchdog thread
 *      (--cancel-after-ms, --cancel-after-tokens) sets one atomic flag; the token callback returns
 *      it, which makes mote_chat_generate stop with MOTE_ERR_CANCELLED after the current token.
 *
 * Output: the replies go to stdout (with each input line echoed as "> line" when stdin is not a
 * terminal, so a transcript reads well); everything else ("[memory]", "[turn N]", "[experts]",
 * errors) goes to stderr, so `edge-chat m.mote < in > replies.txt` keeps only the conversation.
 * Exit status: 0 every input line answered; 1 an error (message on stderr); 2 a bad command line;
 * 3 cancelled (the reply in progress was stopped, the program ended cleanly).
 *
 * Threads: the main thread owns the model and the session (a mote_session is used by one thread
 * at a time); the watchdog thread and the signal handler only touch the atomics below. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mote/mote.h>

#define EDGE_CHAT_VERSION "0.1.0"
enum { EXIT_ANSWERED = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_CANCELLED = 3 };

static const char kUsage[] =
    "usage: edge-chat [options] MODEL.mote\n"
    "Chats with a mote model: one user turn per line of stdin, replies streamed to stdout.\n"
    "  -n, --max-tokens N         reply length limit in tokens (default 64)\n"
    "  -c, --ctx N                context tokens of the conversation (default 2048; older turns\n"
    "                             are dropped when it is full)\n"
    "  -t, --threads N            kernel threads (default 0: all cores)\n"
    "  -m, --mem-limit SIZE       plan with SIZE bytes of memory instead of the detected free\n"
    "                             memory (suffix K, M or G: KiB, MiB, GiB), e.g. 96M\n"
    "  -s, --system TEXT          system prompt\n"
    "      --cancel-after-ms N    a watchdog thread cancels N ms after the first reply starts\n"
    "      --cancel-after-tokens N  a watchdog thread cancels once N reply tokens were streamed\n"
    "                             (counted over all turns)\n"
    "  -h, --help                 this text\n"
    "  -V, --version              edge-chat's and libmote's versions\n"
    "Exit status: 0 all lines answered, 1 error, 2 bad command line, 3 cancelled (Ctrl-C,\n"
    "SIGTERM or --cancel-after-*).\n";

typedef struct options {
  const char* model_path;
  int32_t max_tokens, context, threads;
  uint64_t mem_limit; /* bytes; 0 = detect */
  const char* system_prompt;
  long cancel_after_ms, cancel_after_tokens; /* < 0: off */
} options;

/* ---------------------------------------------------------------- cancellation ---------------- */
/* g_cancel: nonzero asks the reply in progress to stop. Written by the signal handler and the
 * watchdog thread, read by the token callback and the chat loop. A lock-free atomic_int may be
 * stored from a signal handler (C11 7.14.1.1). */
static atomic_int g_cancel;
static atomic_long g_tokens_streamed; /* reply tokens so far, all turns; read by the watchdog */
static atomic_int g_generating;       /* nonzero from the first reply on; the watchdog's clock starts */
static atomic_int g_quit_watchdog;

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&g_cancel, 1);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The watchdog: polls every millisecond (cheap, and simpler than a condition variable) until its
 * limit is reached, then requests the cancel as a UI thread or a timer of an app would. */
static void* watchdog_main(void* arg) {
  const options* opt = (const options*)arg;
  const struct timespec tick = {0, 1000000};
  double start = -1;
  while (!atomic_load(&g_quit_watchdog)) {
    if (start < 0 && atomic_load(&g_generating)) start = now_ms();
    const int time_up = opt->cancel_after_ms >= 0 && start >= 0 && now_ms() - start >= (double)opt->cancel_after_ms;
    const int tokens_up = opt->cancel_after_tokens >= 0 && atomic_load(&g_tokens_streamed) >= opt->cancel_after_tokens;
    if (time_up || tokens_up) {
      fprintf(stderr, "[watchdog] cancelling after %ld reply tokens\n", (long)atomic_load(&g_tokens_streamed));
      atomic_store(&g_cancel, 1);
      break;
    }
    nanosleep(&tick, NULL);
  }
  return NULL;
}

/* Ctrl-C and SIGTERM set the flag. SA_RESETHAND: a second Ctrl-C kills at once, for the case the
 * callback is not reached soon (a long prompt is evaluated before the first token). No
 * SA_RESTART: a read of stdin returns EINTR, so the loop notices at a prompt too (Linux gives a
 * process-directed signal to the main thread when it does not block it; the watchdog thread is
 * started with both signals blocked, see main). */
static void install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* ---------------------------------------------------------------- streaming ------------------- */
typedef struct reply {
  char* text; /* the reply so far, NUL-terminated (owned; grows) */
  size_t len, cap;
} reply;

/* Called by mote_chat_generate on the main thread once per generated token; text may be empty
 * while a multi-byte character or a possible stop string is held back. Returning nonzero stops
 * the generation (MOTE_ERR_CANCELLED). */
static int on_token(void* user_data, int32_t token, const char* text, size_t text_len) {
  reply* r = (reply*)user_data;
  (void)token;
  fwrite(text, 1, text_len, stdout);
  fflush(stdout);
  if (r->len + text_len + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 256;
    while (r->len + text_len + 1 > cap) cap *= 2;
    char* grown = (char*)realloc(r->text, cap);
    if (!grown) return 1; /* out of memory: stop the reply */
    r->text = grown, r->cap = cap;
  }
  memcpy(r->text + r->len, text, text_len);
  r->len += text_len;
  r->text[r->len] = '\0';
  atomic_fetch_add(&g_tokens_streamed, 1);
  return atomic_load(&g_cancel);
}

/* ---------------------------------------------------------------- model and figures ----------- */
static double mib(uint64_t bytes) { return (double)bytes / 1048576.0; }

static int api_error(const char* what, mote_status st) {
  fprintf(stderr, "edge-chat: %s: %s: %s\n", what, mote_status_string(st), mote_last_error());
  return 0;
}

/* Opens the model with the expert budget planned from this device's free memory and prints what
 * was chosen. plan_context = the session's context, so the plan keeps room for its KV cache. */
static mote_model* open_model(const options* opt) {
  mote_model_params mp = mote_model_params_default();
  mp.expert_budget_bytes = MOTE_EXPERT_BUDGET_AUTO;
  mp.mem_limit_bytes = opt->mem_limit;
  mp.plan_context = opt->context;
  mp.n_threads = opt->threads;
  mote_model* model = NULL;
  mote_status st = mote_model_open(opt->model_path, &mp, &model);
  if (st != MOTE_OK) {
    /* MOTE_ERR_OUT_OF_MEMORY: not even one token's experts fit; the message names every term. */
    api_error("opening the model", st);
    return NULL;
  }
  mote_model_info info;
  mote_memory_plan plan;
  const char* kernels = "?";
  if ((st = mote_model_get_info(model, &info)) != MOTE_OK || (st = mote_model_get_memory_plan(model, &plan)) != MOTE_OK) {
    api_error("reading the model's figures", st);
    mote_model_destroy(model);
    return NULL;
  }
  mote_model_get_kernels(model, &kernels);
  fprintf(stderr, "[model] %s, %d layers, %d routed experts (top %d), chat template '%s', kernels %s, %d threads\n",
          info.architecture, info.n_layers, info.n_routed_experts, info.n_experts_per_tok, info.chat_template, kernels,
          info.n_threads);
  if (opt->mem_limit)
    fprintf(stderr, "[memory] available %.1f MiB (--mem-limit)\n", mib(plan.available_bytes));
  else if (plan.cgroup_limit_bytes)
    fprintf(stderr, "[memory] available %.1f MiB from %s (MemAvailable %.1f MiB; cgroup limit %.1f MiB, usage %.1f MiB)\n",
            mib(plan.available_bytes), plan.source, mib(plan.mem_available_bytes), mib(plan.cgroup_limit_bytes),
            mib(plan.cgroup_usage_bytes));
  else
    fprintf(stderr, "[memory] available %.1f MiB from %s (no cgroup memory limit)\n", mib(plan.available_bytes),
            plan.source);
  fprintf(stderr, "[memory] kept for: dense weights %.1f MiB, KV cache %.1f MiB (%d tokens), scratch %.1f MiB, margin %.1f MiB\n",
          mib(plan.dense_bytes), mib(plan.kv_bytes), plan.plan_context, mib(plan.scratch_bytes), mib(plan.margin_bytes));
  if (plan.all_resident)
    fprintf(stderr, "[memory] expert budget: none, every expert fits (%lld experts, %.1f MiB)\n", (long long)plan.n_experts,
            mib(plan.expert_total_bytes));
  else
    fprintf(stderr, "[memory] expert budget %.1f MiB: %lld cache slots of %.1f KiB for %lld experts (%.1f MiB)\n",
            mib(plan.expert_budget_bytes), (long long)plan.slots, (double)plan.slot_bytes / 1024.0,
            (long long)plan.n_experts, mib(plan.expert_total_bytes));
  if (info.chat_template[0] == '\0') {
    fprintf(stderr, "edge-chat: %s: the model has no chat template\n", opt->model_path);
    mote_model_destroy(model);
    return NULL;
  }
  return model;
}

/* Experts in memory now, from the expert map (one entry per expert of every MoE layer). The map
 * is allocated per call: this runs between turns, not inside the decode loop. */
static long count_resident_experts(const mote_model* model, long* out_total) {
  size_t n = 0;
  *out_total = 0;
  if (mote_model_get_expert_map(model, NULL, NULL, NULL, 0, &n) != MOTE_ERR_BUFFER_TOO_SMALL || n == 0) return 0;
  mote_expert_entry* map = (mote_expert_entry*)malloc(n * sizeof *map);
  long resident = 0;
  if (map && mote_model_get_expert_map(model, NULL, NULL, map, n, &n) == MOTE_OK)
    for (size_t i = 0; i < n; ++i) resident += map[i].resident;
  free(map);
  *out_total = (long)n;
  return resident;
}

/* This turn's expert-cache figures (difference from *prev, the counters after the last turn)
 * and the totals since open. */
static void print_expert_stats(mote_model* model, mote_expert_stats* prev) {
  mote_expert_stats e;
  mote_model_wait_expert_io(model); /* so the counters include every read started */
  if (mote_model_get_expert_stats(model, &e) != MOTE_OK) return;
  long total = 0;
  const long resident = count_resident_experts(model, &total);
  const uint64_t acc = e.accesses - prev->accesses, hits = e.hits - prev->hits;
  fprintf(stderr,
          "[experts] turn: hit rate %.3f (%llu of %llu), read %.2f MiB; since open: hit rate %.3f, read %.2f MiB, "
          "io stall %.1f ms; resident %ld of %ld experts (budget %.1f MiB)\n",
          acc ? (double)hits / (double)acc : 1.0, (unsigned long long)hits, (unsigned long long)acc,
          mib(e.bytes_read - prev->bytes_read), e.accesses ? (double)e.hits / (double)e.accesses : 1.0,
          mib(e.bytes_read), e.io_stall_ms, resident, total, mib(e.budget_bytes));
  *prev = e;
}

static const char* stop_name(mote_stop_reason r) {
  switch (r) {
    case MOTE_STOP_MAX_TOKENS: return "max_tokens";
    case MOTE_STOP_EOS: return "eos";
    case MOTE_STOP_STRING: return "stop string";
    case MOTE_STOP_CANCELLED: return "cancel";
    case MOTE_STOP_ERROR: return "error";
    default: return "none";
  }
}

static void print_turn_stats(const mote_session* session, int turn) {
  mote_stats s;
  if (mote_session_get_stats(session, &s) != MOTE_OK) return;
  fprintf(stderr, "[turn %d] reply: %lld tokens, stopped by %s; context: %lld tokens (%lld reused, %lld new); %.1f tok/s\n",
          turn, (long long)s.last_generated_tokens, stop_name(s.stop_reason), (long long)s.context_tokens,
          (long long)s.last_reused_tokens, (long long)s.last_prompt_tokens, s.decode_tok_s);
}

/* ---------------------------------------------------------------- conversation ---------------- */
/* The messages so far, oldest first; contents are owned copies. */
typedef struct conversation {
  mote_chat_message* messages;
  size_t count, cap;
} conversation;

static int add_message(conversation* c, const char* role, const char* content) {
  if (c->count == c->cap) {
    const size_t cap = c->cap ? 2 * c->cap : 16;
    mote_chat_message* grown = (mote_chat_message*)realloc(c->messages, cap * sizeof *grown);
    if (!grown) return 0;
    c->messages = grown, c->cap = cap;
  }
  char* copy = strdup(content);
  if (!copy) return 0;
  c->messages[c->count].role = role; /* a string literal */
  c->messages[c->count].content = copy;
  ++c->count;
  return 1;
}

static void free_conversation(conversation* c) {
  for (size_t i = 0; i < c->count; ++i) free((char*)c->messages[i].content);
  free(c->messages);
}

/* ---------------------------------------------------------------- command line ---------------- */
/* A decimal integer in [min, max]; 0 for anything else. */
static int parse_long(const char* s, long min, long max, long* out) {
  char* end = NULL;
  errno = 0;
  const long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) return 0;
  *out = v;
  return 1;
}

static int parse_int(const char* s, long min, long max, int32_t* out) {
  long v = 0;
  if (!parse_long(s, min, max, &v)) return 0;
  *out = (int32_t)v;
  return 1;
}

/* "123", "96M", "1G": bytes with an optional K/M/G (binary) suffix. */
static int parse_size(const char* s, uint64_t* out) {
  char* end = NULL;
  errno = 0;
  const unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *s == '-') return 0;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, ++end;
  else if (*end == 'M' || *end == 'm') shift = 20, ++end;
  else if (*end == 'G' || *end == 'g') shift = 30, ++end;
  if (*end || v == 0 || v > (UINT64_MAX >> shift)) return 0;
  *out = (uint64_t)v << shift;
  return 1;
}

/* Returns -1 to go on, else the exit status. Errors are one line on stderr. */
static int parse_args(int argc, char** argv, options* opt) {
  *opt = (options){NULL, 64, 2048, 0, 0, NULL, -1, -1};
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return fputs(kUsage, stdout), EXIT_ANSWERED;
    if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
      printf("edge-chat %s (libmote %s, C API %d; built against C API %d)\n", EDGE_CHAT_VERSION, mote_version(),
             (int)mote_api_version(), MOTE_API_VERSION);
      return EXIT_ANSWERED;
    }
    if (a[0] != '-' || !a[1]) {
      if (opt->model_path) return fprintf(stderr, "edge-chat: one model only, got '%s' too (see --help)\n", a), EXIT_USAGE;
      opt->model_path = a;
      continue;
    }
    /* Every other option takes a value: "-n 32", "--max-tokens 32". */
    static const char* const kValued[] = {"-n", "--max-tokens", "-c", "--ctx", "-t", "--threads", "-m", "--mem-limit",
                                          "-s", "--system", "--cancel-after-ms", "--cancel-after-tokens"};
    int known = 0;
    for (size_t k = 0; k < sizeof kValued / sizeof kValued[0]; ++k) known |= !strcmp(a, kValued[k]);
    if (!known) return fprintf(stderr, "edge-chat: unknown option '%s' (see --help)\n", a), EXIT_USAGE;
    if (i + 1 >= argc) return fprintf(stderr, "edge-chat: %s needs a value (see --help)\n", a), EXIT_USAGE;
    const char* v = argv[++i];
    int ok = 1;
    if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) ok = parse_int(v, 1, 1 << 20, &opt->max_tokens);
    else if (!strcmp(a, "-c") || !strcmp(a, "--ctx")) ok = parse_int(v, 16, 1 << 20, &opt->context);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = parse_int(v, 0, 1024, &opt->threads);
    else if (!strcmp(a, "-m") || !strcmp(a, "--mem-limit")) ok = parse_size(v, &opt->mem_limit);
    else if (!strcmp(a, "-s") || !strcmp(a, "--system")) opt->system_prompt = v;
    else if (!strcmp(a, "--cancel-after-ms")) ok = parse_long(v, 0, LONG_MAX, &opt->cancel_after_ms);
    else ok = parse_long(v, 0, LONG_MAX, &opt->cancel_after_tokens); /* --cancel-after-tokens */
    if (!ok) return fprintf(stderr, "edge-chat: bad value '%s' for %s (see --help)\n", v, a), EXIT_USAGE;
  }
  if (!opt->model_path) return fprintf(stderr, "edge-chat: no model given (usage: edge-chat [options] MODEL.mote)\n"), EXIT_USAGE;
  return -1;
}

/* ---------------------------------------------------------------- main ------------------------ */
/* Reads one line of stdin without its newline into *line (getline's buffer). 0 at the end of the
 * input or when a signal interrupted the read. */
static int read_turn(char** line, size_t* cap) {
  const ssize_t n = getline(line, cap, stdin);
  if (n < 0) return 0;
  size_t len = (size_t)n;
  while (len > 0 && ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r')) (*line)[--len] = '\0';
  return 1;
}

/* One conversation: reads the turns, streams the replies; returns the exit status. */
static int chat(mote_model* model, mote_session* session, const options* opt) {
  conversation conv = {NULL, 0, 0};
  reply r = {NULL, 0, 0};
  mote_expert_stats prev;
  memset(&prev, 0, sizeof prev);
  mote_generate_params gp = mote_generate_params_default(); /* greedy: the same input, the same replies */
  gp.max_tokens = opt->max_tokens;
  const int interactive = isatty(STDIN_FILENO);
  char* line = NULL;
  size_t line_cap = 0;
  int status = EXIT_ANSWERED, turn = 0;
  if (opt->system_prompt && !add_message(&conv, "system", opt->system_prompt)) status = EXIT_ERROR;
  while (status == EXIT_ANSWERED) {
    if (interactive) fputs("> ", stderr);
    /* The end of the input, or a signal that interrupted the read (Ctrl-C at the prompt). */
    const int got_line = read_turn(&line, &line_cap);
    if (atomic_load(&g_cancel)) {
      status = EXIT_CANCELLED;
      break;
    }
    if (!got_line) break;
    if (line[0] == '\0') continue;
    if (!interactive) printf("> %s\n", line);
    if (!add_message(&conv, "user", line)) { status = EXIT_ERROR; break; }
    r.len = 0;
    if (r.text) r.text[0] = '\0';
    atomic_store(&g_generating, 1);
    /* The whole conversation every turn: the session keeps the tokens of earlier turns and
     * evaluates only the new ones (reported as "reused" and "new" below). */
    const mote_status st = mote_chat_generate(session, conv.messages, conv.count, &gp, on_token, &r);
    printf("\n");
    fflush(stdout);
    /* mote_last_error holds until the next mote call on this thread: report it first. */
    if (st != MOTE_OK && st != MOTE_ERR_CANCELLED) api_error("generating", st);
    print_turn_stats(session, ++turn);
    print_expert_stats(model, &prev);
    if (st == MOTE_ERR_CANCELLED) {
      /* The tokens generated so far stay in the session; to go on chatting instead of exiting,
       * add r.text as the "assistant" message and clear g_cancel. */
      fprintf(stderr, "[cancelled] reply %d stopped after %lld tokens in all\n", turn,
              (long long)atomic_load(&g_tokens_streamed));
      status = EXIT_CANCELLED;
    } else if (st != MOTE_OK) {
      status = EXIT_ERROR;
    } else if (!add_message(&conv, "assistant", r.text ? r.text : "")) {
      status = EXIT_ERROR;
    }
  }
  free(line);
  free(r.text);
  free_conversation(&conv);
  return status;
}

int main(int argc, char** argv) {
  options opt;
  const int parsed = parse_args(argc, argv, &opt);
  if (parsed >= 0) return parsed;
  /* A libmote older than the header this was built against lacks fields this program sets. */
  if (mote_api_version() < MOTE_API_VERSION) {
    fprintf(stderr, "edge-chat: libmote %s has C API %d, this program needs %d\n", mote_version(),
            (int)mote_api_version(), MOTE_API_VERSION);
    return EXIT_ERROR;
  }
  install_signal_handlers();

  /* SIGINT and SIGTERM are blocked while the threads are started (the library's kernel and I/O
   * threads at open, the watchdog): threads inherit the mask, so the signals go to the main
   * thread, whose blocking read of stdin they interrupt. One pending during the open is delivered
   * when the mask is restored and ends the program at the first prompt. */
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  mote_model* model = open_model(&opt);
  mote_session* session = NULL;
  if (model) {
    mote_session_params sp = mote_session_params_default();
    sp.max_context = opt.context;
    sp.context_policy = MOTE_CONTEXT_SHIFT; /* a full context drops the oldest turns, not the chat */
    const mote_status st = mote_session_create(model, &sp, &session);
    if (st != MOTE_OK) api_error("creating the session", st);
  }
  pthread_t watchdog;
  const int use_watchdog = opt.cancel_after_ms >= 0 || opt.cancel_after_tokens >= 0;
  const int watchdog_started = session && use_watchdog && pthread_create(&watchdog, NULL, watchdog_main, &opt) == 0;
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  if (!session || (use_watchdog && !watchdog_started)) {
    if (session && !watchdog_started) fprintf(stderr, "edge-chat: cannot start the watchdog thread\n");
    if (session) mote_session_destroy(session);
    if (model) mote_model_destroy(model);
    return EXIT_ERROR;
  }

  const int status = chat(model, session, &opt);

  if (watchdog_started) {
    atomic_store(&g_quit_watchdog, 1);
    pthread_join(watchdog, NULL);
  }
  mote_session_destroy(session);
  mote_model_destroy(model);
  return status;
}
