// llama-logits: float32 logits of llama.cpp for given token ids, to compare a GGUF written by
// mote-to-gguf with mote on the same weights (scripts/gguf-compare.sh builds and runs it; it is
// not part of mote's build: it needs a llama.cpp build).
//
//   llama-logits -m MODEL.gguf --ids 1,2,3 --out LOGITS.f32 [-t THREADS]
//       writes [n_ids, n_vocab] float32, row i = the logits after ids[0..i] (one batch)
//   llama-logits -m MODEL.gguf --tokenize TEXT
//       prints llama.cpp's ids of TEXT (no BOS/EOS, control-token text as plain text: mote tokenize
//       --no-special), comma-separated
// Uses only libllama's public API (llama.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char* text, void* user) {
  (void)user;
  if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static int parse_ids(const char* s, llama_token** out) {
  int n = 1;
  for (const char* p = s; *p; ++p) n += *p == ',';
  *out = malloc(sizeof(llama_token) * n);
  int k = 0;
  for (char* end; *s; s = *end ? end + 1 : end) (*out)[k++] = (llama_token)strtol(s, &end, 10);
  return k;
}

int main(int argc, char** argv) {
  const char *model_path = NULL, *ids_arg = NULL, *out_path = NULL, *text = NULL;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-m")) model_path = argv[i + 1];
    else if (!strcmp(argv[i], "--ids")) ids_arg = argv[i + 1];
    else if (!strcmp(argv[i], "--out")) out_path = argv[i + 1];
    else if (!strcmp(argv[i], "--tokenize")) text = argv[i + 1];
    else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
    else return fprintf(stderr, "llama-logits: unknown flag %s\n", argv[i]), 2;
  }
  if (!model_path || (!text && (!ids_arg || !out_path)))
    return fprintf(stderr, "usage: llama-logits -m MODEL --ids 1,2,3 --out FILE [-t N] | -m MODEL --tokenize TEXT\n"), 2;
  llama_log_set(quiet, NULL);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.vocab_only = text != NULL;
  struct llama_model* model = llama_model_load_from_file(model_path, mp);
  if (!model) return fprintf(stderr, "llama-logits: cannot load %s\n", model_path), 1;
  const struct llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  if (text) {
    llama_token ids[8192];
    const int n = llama_tokenize(vocab, text, (int)strlen(text), ids, 8192, 0, 0);
    if (n < 0) return fprintf(stderr, "llama-logits: text too long\n"), 1;
    for (int i = 0; i < n; ++i) printf(i ? ",%d" : "%d", ids[i]);
    printf("\n");
    return 0;
  }
  llama_token* ids = NULL;
  const int n = parse_ids(ids_arg, &ids);
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = n + 16;
  cp.n_batch = cp.n_ubatch = n;
  cp.n_threads = cp.n_threads_batch = threads;
  struct llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) return fprintf(stderr, "llama-logits: cannot create a context\n"), 1;
  struct llama_batch batch = llama_batch_init(n, 0, 1);
  for (int i = 0; i < n; ++i) {
    batch.token[i] = ids[i];
    batch.pos[i] = i;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = n;
  if (llama_decode(ctx, batch)) return fprintf(stderr, "llama-logits: decode failed\n"), 1;
  FILE* f = fopen(out_path, "wb");
  if (!f) return fprintf(stderr, "llama-logits: cannot write %s\n", out_path), 1;
  for (int i = 0; i < n; ++i) fwrite(llama_get_logits_ith(ctx, i), sizeof(float), (size_t)n_vocab, f);
  fclose(f);
  fprintf(stderr, "llama-logits: wrote [%d, %d] float32 logits to %s\n", n, n_vocab, out_path);
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
