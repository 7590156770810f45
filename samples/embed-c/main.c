/* embed-c: a small C program that embeds mote through mote.h only.
 *
 *   embed-c MODEL.mote "prompt text" [max_tokens]
 *
 * Opens the model, prints its info, tokenizes the prompt, streams a greedy continuation through
 * the token callback, shows that a callback can cancel, prints statistics, and checks that a bad
 * call returns a status (never a crash). Exit status 0 when every step behaved as documented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mote/mote.h"

static int print_token(void* user_data, int32_t token, const char* text, size_t text_len) {
  int* count = (int*)user_data;
  (void)token;
  fwrite(text, 1, text_len, stdout);
  fflush(stdout);
  ++*count;
  return 0; /* keep going */
}

static int cancel_after_three(void* user_data, int32_t token, const char* text, size_t text_len) {
  int* count = (int*)user_data;
  (void)token;
  (void)text;
  (void)text_len;
  return ++*count >= 3; /* nonzero cancels */
}

static int check(mote_status status, const char* what) {
  if (status != MOTE_OK) {
    fprintf(stderr, "embed-c: %s failed: %s: %s\n", what, mote_status_string(status), mote_last_error());
    return 0;
  }
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: embed-c MODEL.mote \"prompt\" [max_tokens]\n");
    return 2;
  }
  const int max_tokens = argc > 3 ? atoi(argv[3]) : 16;

  /* A bad call returns a status and a message; it does not crash. */
  mote_model* missing = NULL;
  mote_status st = mote_model_open("/nonexistent/model.mote", NULL, &missing);
  if (st == MOTE_OK || missing != NULL) return fprintf(stderr, "embed-c: opening a missing file succeeded\n"), 1;
  printf("missing file -> %s: %s\n", mote_status_string(st), mote_last_error());

  mote_model_params model_params = mote_model_params_default();
  mote_model* model = NULL;
  if (!check(mote_model_open(argv[1], &model_params, &model), "mote_model_open")) return 1;
  mote_model_info info;
  if (!check(mote_model_get_info(model, &info), "mote_model_get_info")) return 1;
  printf("model: %s, %d layers, vocab %d, %d routed experts (top %d), chat template '%s'\n", info.architecture,
         info.n_layers, info.vocab_size, info.n_routed_experts, info.n_experts_per_tok, info.chat_template);

  int32_t ids[512];
  size_t n_ids = 0;
  if (!check(mote_tokenize(model, argv[2], strlen(argv[2]), 1, ids, 512, &n_ids), "mote_tokenize")) return 1;
  printf("prompt: %zu tokens:", n_ids);
  for (size_t i = 0; i < n_ids; ++i) printf(" %d", ids[i]);
  printf("\n");
  char text[4096];
  size_t text_len = 0;
  if (!check(mote_detokenize(model, ids, n_ids, 1, text, sizeof text, &text_len), "mote_detokenize")) return 1;
  if (strcmp(text, argv[2]) != 0) return fprintf(stderr, "embed-c: round trip gave '%s'\n", text), 1;

  mote_session_params session_params = mote_session_params_default();
  session_params.max_context = 512;
  mote_session* session = NULL;
  if (!check(mote_session_create(model, &session_params, &session), "mote_session_create")) return 1;

  mote_generate_params gen = mote_generate_params_default();
  gen.sampling.temperature = 0.0f; /* greedy */
  gen.max_tokens = max_tokens;
  gen.ignore_eos = 1;
  int streamed = 0;
  printf("output: ");
  if (!check(mote_generate(session, argv[2], strlen(argv[2]), &gen, print_token, &streamed), "mote_generate"))
    return 1;
  printf("\n");

  mote_stats stats;
  if (!check(mote_session_get_stats(session, &stats), "mote_session_get_stats")) return 1;
  printf("stats: prompt %lld tokens at %.1f tok/s, generated %lld tokens at %.1f tok/s, KV cache %llu bytes, "
         "peak RSS %llu bytes\n",
         (long long)stats.prompt_tokens, stats.prefill_tok_s, (long long)stats.generated_tokens, stats.decode_tok_s,
         (unsigned long long)stats.kv_cache_bytes, (unsigned long long)stats.peak_rss_bytes);

  /* The callback can cancel: generation stops with MOTE_ERR_CANCELLED. */
  if (!check(mote_session_reset(session), "mote_session_reset")) return 1;
  int seen = 0;
  gen.max_tokens = 10;
  st = mote_generate(session, argv[2], strlen(argv[2]), &gen, cancel_after_three, &seen);
  printf("cancel after 3 tokens -> %s (%d callbacks)\n", mote_status_string(st), seen);
  if (st != MOTE_ERR_CANCELLED || seen != 3) return 1;

  /* Invalid arguments are statuses too. */
  st = mote_generate(NULL, "x", 1, NULL, NULL, NULL);
  if (st != MOTE_ERR_INVALID_ARGUMENT) return 1;

  mote_session_destroy(session);
  mote_model_destroy(model);
  printf("embed-c: ok\n");
  return 0;
}
