/* mote.h: the public C API of the mote runtime.
 *
 * Conventions
 * - Opaque handles with create/destroy pairs: mote_model (immutable weights, shareable across
 *   threads) and mote_session (one conversation: its own KV cache; use one thread at a time).
 * - Every fallible call returns a mote_status. MOTE_OK is 0. On an error the calling thread's
 *   last error message (mote_last_error) names the file, tensor, field or argument at fault.
 *   No C++ exception and no abort crosses this API for any input.
 * - Params structs are initialised with their *_default() function, then edited, so fields added
 *   later keep sensible defaults.
 * - Strings are UTF-8. Output buffers follow the "capacity in, length out" rule. Text outputs
 *   (mote_detokenize, mote_chat_render): on success *out_len is the text length in bytes, NUL
 *   excluded (as strlen); if the buffer is too small (or NULL) the call returns
 *   MOTE_ERR_BUFFER_TOO_SMALL and sets *out_len to the capacity needed, NUL INCLUDED, so a second
 *   call with capacity = *out_len succeeds. Id outputs (mote_tokenize*, mote_chat_tokenize) have
 *   no terminator: *out_count is the number of ids, on success and when the buffer is too small.
 * - Enum-typed fields and arguments are validated as ints: a value outside the enumeration is
 *   MOTE_ERR_INVALID_ARGUMENT, never undefined behaviour.
 *
 * - Only mote_* symbols are exported by libmote.
 *
 * Version 2 (MOTE_API_VERSION 2) added parse_special (mote_tokenize_ex,
 * mote_generate_params.parse_special), mote_chat_tokenize, mote_generate_tokens and
 * MOTE_ERR_NON_FINITE, and fixed *out_len on MOTE_ERR_BUFFER_TOO_SMALL to include the NUL.
 * Version 3 added conversations that continue (mote_session_truncate, mote_session_get_tokens,
 * reuse_prefix, mote_chat_generate, context policy, mote_session_save/load), the token-level
 * calls (mote_session_eval, mote_sampler_*), stop reasons and per-call figures in mote_stats,
 * frequency_penalty, the expert policy, per-model threads, mote_version, the log callback and the
 * load progress callback; the sampling default became greedy (see mote_sampling_params). Fields
 * were appended to mote_model_params, mote_session_params, mote_sampling_params,
 * mote_generate_params and mote_stats: code built against version 2 must be rebuilt.
 * Version 3 also appended the kernel thread count, the dense weight bytes and the per-token
 * active-weight figures to mote_model_info, the cache geometry, policy and read counters to
 * mote_expert_stats, added mote_model_wait_expert_io, and lets mote_generate_tokens run on a
 * model without a tokenizer (ids only: empty callback text, no stop strings).
 * Version 3 also added mote_model_get_expert_map (per-expert use counts and residency) and
 * mote_model_open_memory (a model from bytes in memory).
 * Version 4 appended mote_model_params.kernels (the kernel table per model) and
 * mote_session_params.kv_type (the KV cache element type, mote_kv_type; default MOTE_KV_F16):
 * code built against version 3 must be rebuilt. Version 4 also added, as new functions only,
 * mote_session_get_kv_read_bytes, mote_model_get_kernels and mote_available_kernels (the decode
 * roofline figures of `mote bench`).
 * Version 5 appended to mote_model_params the learning expert cache (expert_learn,
 * expert_stats_path) and the memory plan (mem_limit_bytes, plan_context; expert_budget_bytes =
 * MOTE_EXPERT_BUDGET_AUTO), to mote_expert_stats the learned start (preloaded, learned,
 * learned_tokens, stats_path), to mote_stats the drafting figures (draft_*), and turned
 * mote_expert_entry's reserved bytes into `learned` (same size): code built against version 4
 * must be rebuilt. mote_session_params.mtp became a mode (MOTE_MTP_OFF / ADAPTIVE / ALWAYS; the
 * default drafts only while it pays). New functions: mote_model_save_expert_stats,
 * mote_model_get_memory_plan, mote_model_measure_expert_reads, mote_expected_hit_rate.
 * Version 6 appended mote_stats.draft_dropped (the per-step draft gate under an expert budget):
 * code built against version 5 must be rebuilt.
 * Version 7 appended to mote_model_params the placement on a backend with separate device memory
 * (vram_budget, expert_tier_mode) and to mote_stats the tier each routed expert access was served
 * from (device cache, upload from host RAM or disk, CPU) with the measured speeds; added
 * MOTE_BACKEND_STAGING (the test double of a GPU) and mote_model_get_layer_tiers: code built
 * against version 6 must be rebuilt.
 */
#ifndef MOTE_MOTE_H_
#define MOTE_MOTE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOTE_API_VERSION 7

typedef enum mote_status {
  MOTE_OK = 0,
  MOTE_ERR_INVALID_ARGUMENT = 1,
  MOTE_ERR_NOT_FOUND = 2,
  MOTE_ERR_IO = 3,
  MOTE_ERR_CORRUPT_FILE = 4,
  MOTE_ERR_UNSUPPORTED = 5,
  MOTE_ERR_OUT_OF_MEMORY = 6,
  MOTE_ERR_OUT_OF_RANGE = 7, /* context full */
  MOTE_ERR_CANCELLED = 8,    /* the token callback asked to stop */
  MOTE_ERR_INTERNAL = 9,
  MOTE_ERR_BUFFER_TOO_SMALL = 10,
  MOTE_ERR_NON_FINITE = 11   /* NaN or Inf logits (corrupt weights or overflow); the message names
                                the position */
} mote_status;

/* The library's version ("0.3.0") and the MOTE_API_VERSION it implements. An application built
 * against an older header may compare mote_api_version() with its MOTE_API_VERSION. */
const char* mote_version(void);
int32_t mote_api_version(void);

/* Logging. The runtime's diagnostics (warnings such as an unsupported MOTE_KERNELS value, load
 * notes) go to `callback` when set, else to stderr ("mote: ..." lines, MOTE_LOG_WARN and more
 * severe only). Process-wide; thread-safe to call at any time; the callback may be called from
 * any thread that runs mote code, so it must be thread-safe itself. Messages have no trailing
 * newline. A NULL callback restores stderr. Levels above max_level are not delivered. */
typedef enum mote_log_level {
  MOTE_LOG_ERROR = 0,
  MOTE_LOG_WARN = 1,
  MOTE_LOG_INFO = 2,
  MOTE_LOG_DEBUG = 3
} mote_log_level;
typedef void (*mote_log_callback)(void* user_data, mote_log_level level, const char* message);
mote_status mote_set_log_callback(mote_log_callback callback, void* user_data, mote_log_level max_level);

/* A static English description of a status code ("ok", "corrupt file", ...). Never NULL. */
const char* mote_status_string(mote_status status);
/* The calling thread's message for its last failed call ("" if none). Valid until the next
 * mote call on this thread. */
const char* mote_last_error(void);

/* MOTE_BACKEND_STAGING (API version 7): the CPU kernels on separate, access-protected "device"
 * memory, the test double of a GPU backend: it runs the whole placement and tiering of a backend
 * with device memory (vram_budget, mote_stats' tier counters) without a GPU. Slow; for tests and
 * placement studies. */
typedef enum mote_backend { MOTE_BACKEND_CPU = 0, MOTE_BACKEND_CUDA = 1, MOTE_BACKEND_STAGING = 2 } mote_backend;

/* How a routed expert that is not in the device's expert cache is served (API version 7). */
typedef enum mote_expert_tier_mode {
  MOTE_TIER_MODE_AUTO = 0,   /* per layer, from the measured upload and CPU speeds (default) */
  MOTE_TIER_MODE_UPLOAD = 1, /* always uploaded into a device cache slot */
  MOTE_TIER_MODE_CPU = 2     /* always computed on the CPU (rows down, result rows up) */
} mote_expert_tier_mode;

typedef struct mote_model mote_model;
typedef struct mote_session mote_session;

typedef enum mote_expert_policy {
  MOTE_EXPERT_POLICY_LFU = 0, /* evict the least frequently used expert (default) */
  MOTE_EXPERT_POLICY_LRU = 1  /* evict the least recently used expert */
} mote_expert_policy;

/* Load progress: fraction in [0, 1], non-decreasing, 1 at the end. Return nonzero to abort:
 * mote_model_open then returns MOTE_ERR_CANCELLED and frees everything. Called on the opening
 * thread. */
typedef int (*mote_progress_callback)(void* user_data, float fraction);

/* mote_model_params.expert_budget_bytes: plan the budget at open from the memory available
 * (API version 5). The library reads MemAvailable (/proc/meminfo) and the process's cgroup memory
 * limit minus its usage less inactive page cache (v1 and v2, every level up the hierarchy), or takes
 * mote_model_params.mem_limit_bytes when nonzero; from the smallest it takes off the dense weights
 * (mapped and resident), the KV cache and scratch of one session at plan_context tokens (the
 * session defaults: kv_type, automatic prefill pass, MTP state when the model has MTP) and a
 * margin (64 MiB + 1/32 of the memory). What remains is the expert budget in whole cache slots;
 * if every expert fits, no budget (all resident in the mapping). If not even n_experts_per_tok
 * slots fit, mote_model_open fails with MOTE_ERR_OUT_OF_MEMORY and a message naming every term.
 * What was chosen: mote_model_get_memory_plan, mote_expert_stats.budget_bytes, and one INFO log
 * line. */
#define MOTE_EXPERT_BUDGET_AUTO UINT64_MAX

typedef struct mote_model_params {
  int32_t n_threads;            /* kernel threads for this model's sessions, 0 = all cores (default).
                                   Per model: each model runs its kernels on its own thread pool of
                                   this size, so models with different counts coexist */
  uint64_t expert_budget_bytes; /* 0 = keep every routed expert resident */
  mote_backend backend;         /* MOTE_BACKEND_CPU; MOTE_BACKEND_CUDA: CUDA device 0 in a build
                                   configured with MOTE_CUDA=ON, else MOTE_ERR_UNSUPPORTED at open
                                   (no CUDA backend in this build, or no usable CUDA device) */
  int32_t verify_checksums;     /* nonzero: check every segment checksum at open (full read) */
  const char* chat_template;    /* NULL: the family detected at conversion; else a family name */
  int32_t expert_prefetch;      /* with a budget: nonzero (default) reads the next layer's predicted experts ahead */
  int32_t expert_hot_slots;     /* with a budget: slots kept for the most used experts (default 0) */
  /* --- API version 3 --- */
  mote_expert_policy expert_policy;        /* with a budget: eviction policy (default LFU) */
  mote_progress_callback progress_callback; /* may be NULL */
  void* progress_user_data;
  /* --- API version 4 --- */
  const char* kernels;          /* kernel table of this model's calls: "reference", "avx2", "avx512",
                                   "avx512-amx", "neon"; NULL or "" (default): the best this CPU runs (or the one the
                                   MOTE_KERNELS environment variable names). Per model: models with
                                   different tables run side by side. A name this build or CPU cannot
                                   run is MOTE_ERR_INVALID_ARGUMENT naming it. Copied at open */
  /* --- API version 5 --- */
  int32_t expert_learn;         /* nonzero: the learning expert cache. At open, the routing statistics
                                   file (expert_stats_path) is read; with an expert budget the experts
                                   it ranks hottest are read into the cache in the background and
                                   the hottest held by hot pinning (expert_hot_slots when set, else
                                   half the slots, leaving at least one token's experts of every
                                   layer unpinned). At mote_model_destroy (or
                                   mote_model_save_expert_stats) this run's per-token routing is
                                   merged in (older counts decay: half weight per 4096 new tokens)
                                   and the file rewritten atomically. A missing file is a first run;
                                   a corrupt, truncated or other model's file is ignored with one
                                   warning and replaced. Default 0 (off: the library writes no file
                                   unasked; the mote CLI turns it on with a budget) */
  const char* expert_stats_path; /* with expert_learn: the statistics file; NULL or "" (default):
                                   $MOTE_CACHE_DIR, $XDG_CACHE_HOME/mote or ~/.cache/mote, named
                                   "<model file name>-<model identity>.experts"; with none of those
                                   variables "<model path>.experts". Copied at open */
  uint64_t mem_limit_bytes;     /* memory the model may use, for MOTE_EXPERT_BUDGET_AUTO and the memory
                                   plan; 0 (default) = detect (MemAvailable, cgroup limit) */
  int32_t plan_context;         /* context tokens whose KV cache the memory plan keeps room for
                                   (default 4096; > 0) */
  /* --- API version 7 --- */
  uint64_t vram_budget;         /* a backend with device memory (CUDA, STAGING): bytes of device memory
                                   the model and its sessions may use. Dense weights go first, then one
                                   session's KV cache and scratch at plan_context, and the rest holds
                                   the device expert cache (hot routed experts, evicted by
                                   expert_policy); other experts come from host RAM or disk (the
                                   expert budget). 0 (default) = all the device holds (every expert
                                   when it fits). Nonzero with MOTE_BACKEND_CPU, or above 1 PiB:
                                   MOTE_ERR_INVALID_ARGUMENT; below the dense weights + session:
                                   MOTE_ERR_OUT_OF_MEMORY naming the terms */
  mote_expert_tier_mode expert_tier_mode; /* with device memory: experts missing from the device cache
                                   (default MOTE_TIER_MODE_AUTO) */
} mote_model_params;

mote_model_params mote_model_params_default(void);
mote_status mote_model_open(const char* path, const mote_model_params* params, mote_model** out_model);
/* Opens a model from a .mote file's bytes already in memory (an app's asset, a decrypted
 * buffer), with the same verification as mote_model_open: a truncated or corrupt buffer is
 * MOTE_ERR_CORRUPT_FILE (or another error) with a one-line message starting "memory buffer: ".
 * No copy is made: weights are used in place, and with an expert budget routed experts are
 * copied from the buffer into the cache slots. `data` must stay valid and unchanged until
 * mote_model_destroy returns, and be 16-byte aligned (malloc, new and mmap give that). */
mote_status mote_model_open_memory(const void* data, size_t size, const mote_model_params* params,
                                   mote_model** out_model);
void mote_model_destroy(mote_model* model);

typedef struct mote_model_info {
  int32_t vocab_size;
  int32_t n_layers;
  int32_t hidden_size;
  int32_t n_routed_experts;
  int32_t n_experts_per_tok;
  int32_t has_mtp;
  int32_t bos_token;            /* -1 if none */
  int32_t eos_token;            /* first end-of-sequence id, -1 if none */
  uint64_t file_bytes;
  const char* architecture;     /* "DeepSeekV3", ... (static storage) */
  const char* chat_template;    /* family name, or "" if the model has none */
  /* --- API version 3 --- */
  int32_t n_threads;            /* kernel threads this model's calls run on (its own pool, or the
                                   process-wide one for mote_model_params.n_threads 0) */
  uint64_t dense_bytes;         /* bytes of every weight but the routed experts (MTP included):
                                   what stays mapped whatever the expert budget is */
  /* The weights one decoded token touches, for a memory roofline (main layers; the MTP module is
   * not counted). Bytes are as stored in the file (quantised sizes); MACs are multiply-adds of
   * the matrix-vector products (one per weight element; 2 floating-point operations each). */
  double dense_bytes_per_token; /* attention, dense and shared FFNs, router, norms, lm_head, and
                                   one embedding row */
  double dense_macs_per_token;  /* of the 2-D weights above (the embedding row has none) */
  double expert_bytes;          /* one routed expert (gate + up + down), averaged over the main
                                   layers; 0 without routed experts */
  double expert_macs;           /* multiply-adds of one routed expert, averaged likewise */
} mote_model_info;

mote_status mote_model_get_info(const mote_model* model, mote_model_info* out_info);

/* Every end-of-sequence id generation stops at: the model config's eos ids plus the tokenizer's
 * end-of-sequence token (API version 3). Output rules as mote_tokenize. */
mote_status mote_model_get_eos_tokens(const mote_model* model, int32_t* ids, size_t capacity, size_t* out_count);

/* Routed-expert cache counters since open (all sessions of the model together). */
typedef struct mote_expert_stats {
  uint64_t budget_bytes;     /* as opened; 0 = resident */
  uint64_t accesses;         /* experts acquired = hits + misses */
  uint64_t hits;
  uint64_t misses;           /* read on demand */
  uint64_t prefetch_reads;   /* read ahead by prediction */
  uint64_t prefetch_hits;    /* of those, used before eviction */
  uint64_t bytes_read;
  double io_stall_ms;        /* time forward passes waited for expert reads */
  /* --- API version 3 --- */
  uint64_t evictions;        /* cache slots reused for another expert */
  uint64_t prefetch_unused;  /* prefetched experts evicted before any use */
  double read_ms;            /* time inside expert reads, demand + prefetch, summed over the
                                reading threads (bytes_read / read_ms: the read speed) */
  uint64_t total_bytes;      /* bytes of the routed experts of the main layers (the MTP layers'
                                experts, also served by the cache, are not counted) */
  int64_t slot_count;        /* cache slots (at most one per expert); 0 = no budget, every
                                expert resident in the mapping */
  uint64_t slot_bytes;       /* bytes per slot (the largest expert rounded up to 4 KiB); 0 when
                                resident. slot_count * slot_bytes <= budget_bytes */
  int64_t hot_slots;         /* slots kept for the most used experts */
  mote_expert_policy policy; /* eviction policy as opened */
  int32_t prefetch;          /* nonzero: experts are read ahead by prediction */
  int32_t direct_io;         /* nonzero: expert reads bypass the page cache (O_DIRECT) */
  /* --- API version 5 --- */
  uint64_t preloaded;        /* experts read at open from the learned routing statistics */
  int32_t learned;           /* nonzero: routing statistics were loaded at open (expert_learn) */
  double learned_tokens;     /* tokens the loaded statistics stand for (decayed); 0 without */
  const char* stats_path;    /* the routing statistics file with expert_learn, else NULL; valid
                                while the model is open */
} mote_expert_stats;

mote_status mote_model_get_expert_stats(const mote_model* model, mote_expert_stats* out_stats);
/* Waits until no expert read ahead (prefetch) is in flight, so that the counters of
 * mote_model_get_expert_stats include every read started so far (API version 3). Returns at once
 * when the experts are resident or prefetch is off. */
mote_status mote_model_wait_expert_io(mote_model* model);
/* With mote_model_params.expert_learn: merges the routing of every session since open (or the
 * last call) into the routing statistics file now, as mote_model_destroy does (for a long-running
 * process such as a server). OK and a no-op without expert_learn. One thread at a time per model
 * (API version 5). */
mote_status mote_model_save_expert_stats(mote_model* model);

/* The memory plan of the model (API version 5), made at open for every model: what
 * MOTE_EXPERT_BUDGET_AUTO chose, or would choose for a model opened with a fixed budget. Byte
 * figures as described at MOTE_EXPERT_BUDGET_AUTO. Errors: the memory could not be determined
 * (the probe's message, e.g. an unreadable cgroup file; set mem_limit_bytes). */
typedef struct mote_memory_plan {
  uint64_t available_bytes;      /* the memory planned with (the smallest found, or mem_limit_bytes) */
  char source[200];              /* where it came from: "MemAvailable (/proc/meminfo)",
                                    "cgroup v1 /sys/fs/cgroup/memory/...", "cgroup v2 ...", "mem_limit_bytes" */
  uint64_t mem_available_bytes;  /* /proc/meminfo MemAvailable; 0 if not read (explicit limit) */
  uint64_t cgroup_limit_bytes;   /* the binding cgroup's limit; 0 = none found */
  uint64_t cgroup_usage_bytes;   /* its usage at open */
  uint64_t dense_bytes;          /* weights outside the routed experts */
  uint64_t kv_bytes;             /* one session's KV cache at plan_context tokens */
  uint64_t scratch_bytes;        /* that session's activation scratch and buffers */
  uint64_t margin_bytes;         /* kept free */
  int32_t plan_context;
  int32_t all_resident;          /* nonzero: every routed expert fits (no budget) */
  int32_t fits;                  /* zero: not even n_experts_per_tok slots fit (auto would fail) */
  int32_t n_moe_layers;          /* main layers with routed experts */
  uint64_t expert_budget_bytes;  /* the planned budget; 0 when all_resident or !fits */
  uint64_t expert_total_bytes;   /* every routed expert's bytes (MTP layers included) */
  uint64_t slot_bytes;           /* one cache slot */
  int64_t slots;                 /* planned slots (n_experts when all_resident) */
  int64_t n_experts;             /* routed experts served by the cache (MTP layers included) */
} mote_memory_plan;

mote_status mote_model_get_memory_plan(const mote_model* model, mote_memory_plan* out_plan);

/* Reads a sample of the model file's routed-expert segments the way the expert cache does
 * (O_DIRECT when the file system allows, so the page cache does not answer), for at most
 * max_seconds (and at most one pass over the experts), and gives the read speed in bytes per
 * second (API version 5). *out_direct_io is nonzero when the reads bypassed the page cache (else
 * a cached file may read faster than its disk). MOTE_ERR_UNSUPPORTED: no routed experts, or a
 * model opened from memory. */
mote_status mote_model_measure_expert_reads(const mote_model* model, double max_seconds, double* out_bytes_per_s,
                                            int32_t* out_direct_io);

/* Expected hit rate of an expert cache that holds the `slots` most used of one layer's experts,
 * given that layer's per-expert use counts (any non-negative scale, e.g. mote_expert_entry.uses
 * or learned routing statistics): the share of uses falling on those experts (API version 5).
 * All-zero counts give the uniform estimate slots / n_experts; slots >= n_experts gives 1;
 * counts NULL, n_experts 0 or slots <= 0 give 0. */
double mote_expected_hit_rate(const double* counts, size_t n_experts, int64_t slots);

/* The expert map (API version 3): one entry per routed expert of every main MoE layer, for a view
 * of which experts the model uses and which are in memory. Rows are the MoE layers in ascending
 * order (dense layers, e.g. DeepSeek's first_k_dense_replace, and the MTP layers have none); a row
 * holds the layer's n_routed_experts entries by expert id. The state is read at the call: use
 * counts are relaxed counters (a generation running meanwhile may be partly counted), residency
 * is one consistent picture of the cache. */
typedef struct mote_expert_entry {
  uint64_t uses;       /* acquisitions since open, all sessions together: once per forward pass
                          (one decode step, or one prefill batch) that routes a token to it */
  int32_t layer;       /* main-layer index */
  int32_t expert;      /* routed expert id in [0, n_routed_experts) */
  int8_t resident;     /* 1: in memory now (a loaded cache slot); always 1 without a budget */
  int8_t pinned;       /* 1: kept by hot pinning (mote_model_params.expert_hot_slots) */
  int8_t loading;      /* 1: being read into a cache slot now */
  int8_t reserved;     /* 0 */
  float learned;       /* API version 5: share of tokens routed to this expert in the routing
                          statistics loaded at open (mote_model_params.expert_learn; decayed
                          counts / tokens, so a layer's values sum to n_experts_per_tok); 0 without
                          statistics. Occupies what were reserved bytes: the size is unchanged */
} mote_expert_entry;

/* Writes the map to entries[0 .. n_layers * n_experts). *out_n_layers (MoE rows) and *out_n_experts
 * may be NULL; when given they are set on success and on MOTE_ERR_BUFFER_TOO_SMALL. Output rules
 * as mote_tokenize: *out_count is the number of entries, on success and when the buffer is too
 * small (or NULL). A model without routed experts gives 0 entries and MOTE_OK. */
mote_status mote_model_get_expert_map(const mote_model* model, int32_t* out_n_layers, int32_t* out_n_experts,
                                      mote_expert_entry* entries, size_t capacity, size_t* out_count);

/* Text -> ids.
 * add_special: add BOS/EOS as the tokenizer configuration asks.
 * parse_special: match control tokens written in the text ("<|im_end|>", "<｜User｜>", "</s>",
 *   "[INST]" where it is a control piece) and turn them into their ids. 0 treats the whole text as
 *   plain text: a control token's text is tokenized like any other characters, so untrusted text
 *   cannot end a turn or open a role. Control tokens are the tokenizer's special tokens plus added
 *   tokens written like them (<|...|>, <｜...｜>), as llama.cpp classifies them; other added tokens
 *   (e.g. Qwen's "<think>", OLMoE's runs of spaces) are matched either way.
 * As llama.cpp's llama_tokenize(..., add_special, parse_special). */
mote_status mote_tokenize_ex(const mote_model* model, const char* text, size_t text_len, int add_special,
                             int parse_special, int32_t* ids, size_t capacity, size_t* out_count);
/* mote_tokenize_ex with parse_special = add_special (API version 1 signature): 1 = BOS + control
 * tokens parsed (trusted text such as a rendered template), 0 = no BOS, plain text. */
mote_status mote_tokenize(const mote_model* model, const char* text, size_t text_len, int add_special,
                          int32_t* ids, size_t capacity, size_t* out_count);
/* Ids -> UTF-8 text (skip_special: drop special tokens). out is NUL-terminated when it fits. */
mote_status mote_detokenize(const mote_model* model, const int32_t* ids, size_t count, int skip_special,
                            char* out, size_t capacity, size_t* out_len);

/* What generation does when the context is full. */
typedef enum mote_context_policy {
  MOTE_CONTEXT_ERROR = 0, /* the call fails with MOTE_ERR_OUT_OF_RANGE and a message (default) */
  MOTE_CONTEXT_SHIFT = 1  /* keep the first n_keep tokens (the system prompt), drop the oldest half
                             of the rest and re-evaluate what is kept, then go on; the result equals
                             a fresh session fed the shortened token sequence */
} mote_context_policy;

/* Element type of a session's KV cache rows (API version 4). f16 and q8_0 round each stored
 * value (q8_0: blocks of 32 values with one f32 scale); f32 is exact. README "KV cache precision"
 * has the measured quality and speed. */
typedef enum mote_kv_type {
  MOTE_KV_F32 = 0,
  MOTE_KV_F16 = 1, /* default */
  MOTE_KV_Q8_0 = 2
} mote_kv_type;

/* Values of mote_session_params.mtp (API version 5; before it every nonzero value was "always"). */
#define MOTE_MTP_OFF 0
#define MOTE_MTP_ADAPTIVE 1
#define MOTE_MTP_ALWAYS 2

typedef struct mote_session_params {
  int32_t max_context; /* tokens the KV cache holds; default 4096 */
  int32_t max_batch;   /* tokens per prefill pass; default 0: automatic (512, 256 or 128 tokens,
                          the largest whose scratch fits 256 MiB, else 64); 1..65536 sets it */
  int32_t mtp;         /* speculative decoding with the model's MTP module when it has one (greedy
                          and sampled output (same seed) are those of plain decoding): 0 (MOTE_MTP_OFF) off;
                          MOTE_MTP_ALWAYS drafts every step (for measurement); any other nonzero
                          value, default MOTE_MTP_ADAPTIVE (API version 5): drafts only while the
                          measured acceptance and pass times predict a speed-up, with occasional
                          probe drafts otherwise (README "Speculation that pays") */
  /* --- API version 3 --- */
  mote_context_policy context_policy; /* default MOTE_CONTEXT_ERROR */
  int32_t n_keep;      /* with MOTE_CONTEXT_SHIFT: tokens at the start never dropped (default 0;
                          mote_chat_generate keeps the rendered system prompt whatever this says) */
  /* --- API version 4 --- */
  mote_kv_type kv_type; /* KV cache element type (default MOTE_KV_F16); a session file restores only
                           into a session of the same kv_type */
} mote_session_params;

mote_session_params mote_session_params_default(void);
/* The model must outlive the session. Sessions of one model may run on different threads. */
mote_status mote_session_create(mote_model* model, const mote_session_params* params, mote_session** out_session);
void mote_session_destroy(mote_session* session);
/* Forgets the conversation (KV cache and statistics). */
mote_status mote_session_reset(mote_session* session);

/* The conversation's token ids, oldest first: everything evaluated plus, after a generation, its
 * last token (kept pending: it is evaluated at the start of the next call, so no token is lost
 * between calls). Output rules as mote_tokenize. */
mote_status mote_session_get_tokens(const mote_session* session, int32_t* ids, size_t capacity,
                                    size_t* out_count);
/* Keeps the first n_tokens of the conversation and forgets the rest (n_tokens <= the count
 * mote_session_get_tokens returns; 0 = reset without clearing the statistics). With the MTP
 * module this re-evaluates the last kept token to rebuild the draft state. */
mote_status mote_session_truncate(mote_session* session, size_t n_tokens);

/* Saves the conversation (tokens, KV cache rows in use, MTP state) with an identity of the model
 * file; written to a temporary name and renamed, so `path` is either the old file or the new one.
 * Loading into a session of the same model (max_context large enough) restores it exactly:
 * generation continues as if the session had never stopped, with no re-evaluation. A file of
 * another model, a corrupt or truncated file is an error naming the path and the field, and
 * leaves the session unchanged. */
mote_status mote_session_save(const mote_session* session, const char* path);
mote_status mote_session_load(mote_session* session, const char* path);

/* Token level: appends `ids` to the conversation (after any pending token) and evaluates them.
 * all_positions 0: logits of the last id, vocab_size floats; 1: n_ids * vocab_size floats, row i
 * for ids[i]. logits may be NULL (capacity 0) to evaluate only. MOTE_ERR_BUFFER_TOO_SMALL if
 * capacity (in floats) is short, before any work. */
mote_status mote_session_eval(mote_session* session, const int32_t* ids, size_t n_ids, int all_positions,
                              float* logits, size_t capacity);

/* The one default, shared by the C API and the mote CLI: greedy (temperature 0), so the same
 * prompt gives the same text everywhere. Setting temperature > 0 samples; top_k 40, top_p 0.95
 * and min_p 0.05 then apply (the CLI's --temp T uses the same values). */
typedef struct mote_sampling_params {
  float temperature;        /* 0 = greedy (default 0) */
  int32_t top_k;            /* 0 = off (default 40; used when temperature > 0) */
  float top_p;              /* 1 = off (default 0.95) */
  float min_p;              /* 0 = off (default 0.05) */
  float repetition_penalty; /* 1 = off */
  float presence_penalty;   /* 0 = off; subtracted once from every token seen in the window */
  int32_t penalty_last_n;   /* tokens the penalties look back over (default 64) */
  uint64_t seed;            /* same seed, same model, same prompt -> same output */
  /* --- API version 3 --- */
  float frequency_penalty;  /* 0 = off; subtracted once per occurrence in the window (OpenAI's
                               frequency_penalty) */
} mote_sampling_params;

mote_sampling_params mote_sampling_params_default(void);

/* A sampler on given logits, for the token-level API: the same code mote_generate samples with.
 * Stateful (the penalty window and the random stream), not thread-safe. */
typedef struct mote_sampler mote_sampler;
mote_status mote_sampler_create(const mote_model* model, const mote_sampling_params* params,
                                mote_sampler** out_sampler);
void mote_sampler_destroy(mote_sampler* sampler);
/* Chooses a token from logits [n_logits] (n_logits = the model's vocab_size) and accepts it into
 * the penalty window. NaN or Inf logits: MOTE_ERR_NON_FINITE. */
mote_status mote_sampler_sample(mote_sampler* sampler, const float* logits, size_t n_logits, int32_t* out_token);
/* Adds tokens the sampler did not choose (the prompt) to the penalty window. */
mote_status mote_sampler_accept(mote_sampler* sampler, const int32_t* ids, size_t n_ids);
/* Empties the penalty window and restarts the random stream from the seed. */
mote_status mote_sampler_reset(mote_sampler* sampler);

/* Called once per generated token with its text (may be empty while a UTF-8 sequence or a
 * possible stop string is held back; text is always valid UTF-8). Return nonzero to stop:
 * generation then returns MOTE_ERR_CANCELLED. */
typedef int (*mote_token_callback)(void* user_data, int32_t token, const char* text, size_t text_len);

typedef struct mote_generate_params {
  mote_sampling_params sampling;
  int32_t max_tokens;             /* default 256 */
  const char* const* stop;        /* stop strings (not emitted), may be NULL */
  size_t n_stop;
  int32_t ignore_eos;             /* nonzero: do not stop at the model's end-of-sequence tokens */
  int32_t add_special;            /* prepend BOS to the prompt at position 0 (default 1) */
  int32_t parse_special;          /* parse control tokens in the prompt text (default 1: the prompt
                                     is trusted, e.g. from mote_chat_render); 0 for untrusted
                                     text. Ignored by mote_generate_tokens (API version 2) */
  /* --- API version 3 --- */
  int32_t reuse_prefix;           /* nonzero: the prompt is the whole conversation from its start,
                                     not a continuation; the session keeps its longest common
                                     prefix with it (at most all but the last prompt token) and
                                     evaluates only the rest. add_special then applies as at
                                     position 0. mote_chat_generate always reuses. */
} mote_generate_params;

mote_generate_params mote_generate_params_default(void);

/* Appends the prompt text to the session's context and generates a continuation, streaming each
 * token through `callback` (may be NULL). The session keeps every token: a following call
 * continues after the last generated one. On MOTE_ERR_CANCELLED the tokens generated so far stay
 * in the session and in mote_stats. MOTE_ERR_NON_FINITE: the logits at some position held
 * NaN or Inf (the message names the position); nothing is sampled from them. */
mote_status mote_generate(mote_session* session, const char* prompt, size_t prompt_len,
                          const mote_generate_params* params, mote_token_callback callback, void* user_data);
/* As mote_generate, from prompt ids (e.g. from mote_chat_tokenize); add_special and parse_special
 * are ignored. On a model without a tokenizer it generates ids only (API version 3): the callback
 * text is empty, and stop strings are MOTE_ERR_INVALID_ARGUMENT. */
mote_status mote_generate_tokens(mote_session* session, const int32_t* prompt_ids, size_t n_ids,
                                 const mote_generate_params* params, mote_token_callback callback,
                                 void* user_data);

typedef struct mote_chat_message {
  const char* role;    /* "system", "user", "assistant" */
  const char* content;
} mote_chat_message;

/* Renders a conversation with the model's chat template (add_generation_prompt: end with the
 * assistant turn opener). Output rules as mote_detokenize. */
mote_status mote_chat_render(const mote_model* model, const mote_chat_message* messages, size_t count,
                             int add_generation_prompt, char* out, size_t capacity, size_t* out_len);
/* Renders and tokenizes a conversation safely: the template's own text (role headers, turn ends,
 * BOS) is tokenized with control tokens parsed, while message contents and roles are plain text,
 * so "<|im_end|>" typed by a user never becomes the control id. Equals mote_tokenize(render, 1)
 * for contents without control-token text. No BOS is added beyond the template's own. Output rules
 * as mote_tokenize. Feed the ids to mote_generate_tokens (after mote_session_reset when the
 * whole conversation is re-rendered). */
mote_status mote_chat_tokenize(const mote_model* model, const mote_chat_message* messages, size_t count,
                               int add_generation_prompt, int32_t* ids, size_t capacity, size_t* out_count);

/* Renders the conversation (add_generation_prompt), tokenizes it as mote_chat_tokenize does and
 * generates the assistant's reply, evaluating only what the session does not already hold (the
 * common prefix with its tokens is kept). Call it with the whole conversation each turn, the
 * previous reply included as an "assistant" message. With MOTE_CONTEXT_SHIFT, when the rendered
 * conversation plus max_tokens does not fit, the oldest non-system messages are left out (whole
 * turns) until it does; during the reply the rendered system prompt is kept. */
mote_status mote_chat_generate(mote_session* session, const mote_chat_message* messages, size_t count,
                               const mote_generate_params* params, mote_token_callback callback,
                               void* user_data);

/* Why the last generation call ended. */
typedef enum mote_stop_reason {
  MOTE_STOP_NONE = 0,       /* no generation yet (or it failed before generating) */
  MOTE_STOP_MAX_TOKENS = 1, /* max_tokens reached ("length") */
  MOTE_STOP_EOS = 2,        /* an end-of-sequence token ("stop") */
  MOTE_STOP_STRING = 3,     /* a stop string ("stop") */
  MOTE_STOP_CANCELLED = 4,  /* the callback returned nonzero */
  MOTE_STOP_ERROR = 5       /* an error after generation began (see mote_last_error) */
} mote_stop_reason;

typedef struct mote_stats {
  int64_t prompt_tokens;      /* processed by prefill since the last reset */
  int64_t generated_tokens;
  double prefill_tok_s;
  double decode_tok_s;
  int64_t context_tokens;     /* tokens in the KV cache now */
  uint64_t kv_cache_bytes;    /* allocated by this session */
  uint64_t scratch_bytes;     /* activation buffers of this session */
  uint64_t model_resident_bytes; /* model weight bytes in this process's memory now: the resident
                                    pages of the file mapping plus the expert cache's slots */
  uint64_t peak_rss_bytes;    /* process peak resident set (VmHWM) */
  /* --- API version 3 --- */
  mote_stop_reason stop_reason;  /* of the last generation call */
  int64_t last_prompt_tokens;    /* evaluated by the last call (after prefix reuse) */
  int64_t last_reused_tokens;    /* kept from the session by the last call's prefix reuse */
  int64_t last_generated_tokens; /* emitted by the last call, cancelled calls included */
  int64_t context_shifts;        /* MOTE_CONTEXT_SHIFT shifts since the last reset */
  int64_t draft_steps;           /* MTP speculative verify passes since the last reset */
  int64_t drafts_accepted;       /* of those, drafts the model agreed with */
  /* --- API version 5 --- */
  int64_t draft_skipped;         /* steps of an MTP session decoded plainly because the adaptive
                                    policy predicted drafting would not pay (since the last reset) */
  int64_t draft_probes;          /* of draft_steps, drafts taken only to re-measure (policy not drafting) */
  double draft_acceptance;       /* the policy's current acceptance estimate (0..1; 0.5 before any draft,
                                    0 without MTP); kept across resets, like the two below */
  double draft_cost_ratio;       /* measured time of a draft step (head + two-token pass) over a plain
                                    one-token step; 0 until both were measured */
  double draft_speedup_predicted; /* (1 + draft_acceptance) / draft_cost_ratio; drafting is chosen
                                    while it is above 1 (with hysteresis); 0 until measured */
  /* --- API version 6 --- */
  int64_t draft_dropped;         /* of draft_steps, those whose draft token the per-step gate dropped
                                    part-way through the pass: under an expert budget its own expert
                                    misses would have cost more than the draft was expected to save
                                    (counted as rejected; the emitted tokens do not change) */
  /* --- API version 7: the routed expert tiers of a backend with device memory (all 0 on the CPU
   * backend). Counters are the MODEL's since open (all its sessions): take differences around a
   * call. tier_device_hits + tier_uploads_host + tier_uploads_disk + tier_cpu_host + tier_cpu_disk
   * = routed expert accesses (one per expert a layer routes to, per forward pass). --- */
  uint64_t vram_budget_bytes;    /* the budget in effect (0: none) */
  uint64_t device_dense_bytes;   /* device bytes of the dense weights */
  uint64_t device_session_bytes; /* device bytes the budget keeps for sessions' KV and scratch */
  uint64_t device_cache_bytes;   /* device bytes of the expert cache's slots */
  int64_t device_expert_slots;   /* experts the device cache holds at once */
  int64_t device_experts_total;  /* routed experts of the model */
  int64_t tier_device_hits;      /* served from the device cache, in place */
  int64_t tier_uploads_host;     /* uploaded into a slot from host RAM */
  int64_t tier_uploads_disk;     /* uploaded after the expert store read it from disk */
  int64_t tier_cpu_host;         /* computed on the CPU from host RAM */
  int64_t tier_cpu_disk;         /* computed on the CPU after a disk read */
  int64_t tier_probes;           /* misses served the other way to re-measure its speed (auto) */
  double tier_upload_gbs;        /* measured expert upload speed (GB/s; 0 until measured) */
  double tier_cpu_us_per_token;  /* measured CPU time per expert-token, row transfers included (us) */
  int32_t tier_layers_upload;    /* MoE layers whose misses are uploaded now (mote_model_get_layer_tiers) */
  int32_t tier_layers_cpu;       /* MoE layers whose misses are computed on the CPU now */
} mote_stats;

mote_status mote_session_get_stats(const mote_session* session, mote_stats* out_stats);

/* How each layer serves routed experts missing from the device cache now (API version 7). */
typedef enum mote_layer_tier {
  MOTE_LAYER_TIER_NONE = 0,     /* no routed experts, or a backend without device memory */
  MOTE_LAYER_TIER_RESIDENT = 1, /* every expert of the model is on the device */
  MOTE_LAYER_TIER_UPLOAD = 2,   /* misses are uploaded into a device slot */
  MOTE_LAYER_TIER_CPU = 3       /* misses are computed on the CPU */
} mote_layer_tier;
/* One entry per layer (main layers, then MTP blocks). Output rules as mote_tokenize: *out_count
 * is the number of layers, on success and when the buffer is too small; tiers may be NULL when
 * capacity is 0. The choice of MOTE_TIER_MODE_AUTO changes as the speeds are re-measured. */
mote_status mote_model_get_layer_tiers(const mote_model* model, mote_layer_tier* tiers, size_t capacity,
                                       size_t* out_count);

/* --- Figures for a decode roofline (API version 4; new functions only, no struct changed) --- */
/* Bytes of this session's KV cache one decoded token at `position` (0-based: the token after
 * `position` tokens already held) reads, over the main layers: each layer's rows of the positions
 * it attends to (its own included; a sliding-window layer only the window), at the session's
 * kv_type (K and V heads for GQA, the MLA latent [c_kv | k_pe] piece for DeepSeek). Any position
 * >= 0 may be asked (it need not be held yet); position < 0 is MOTE_ERR_INVALID_ARGUMENT. */
mote_status mote_session_get_kv_read_bytes(const mote_session* session, int64_t position, uint64_t* out_bytes);
/* The kernel table this model's calls run on ("reference", "avx2", "avx512", "neon"; static
 * storage). */
mote_status mote_model_get_kernels(const mote_model* model, const char** out_name);
/* The kernel tables this build and CPU can run, reference first, best last (static storage).
 * Output rules as mote_tokenize: *out_count is the number of tables, on success and when the
 * buffer is too small (MOTE_ERR_BUFFER_TOO_SMALL); names may be NULL when capacity is 0. */
mote_status mote_available_kernels(const char** names, size_t capacity, size_t* out_count);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOTE_MOTE_H_ */
