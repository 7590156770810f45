// SentencePiece `tokenizer.model` loading: Llama-2 and Mistral models. The Mixtral
// tokenizer.model must encode exactly like its Hugging Face tokenizer.json twin (checked on
// whole corpora), which cross-checks the score-ranked BPE against HF's merge-ranked BPE.
#include <gtest/gtest.h>

#include "tokenizer/tok_test_util.h"

namespace mote::test {
namespace {

TEST(SentencePieceModel, Llama2Basics) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "llama2.model");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{2});
  EXPECT_EQ(tok->token_text(0), "<unk>");
  EXPECT_EQ(tok->token_text(13), "<0x0A>");
  EXPECT_EQ(tok->token_bytes(13), "\n");
  EXPECT_EQ(tok->find_token("<0x0A>"), 13);
  EXPECT_EQ(tok->find_token("\u2581Hello"), 15043);
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(15043));
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("Hello world", true, &ids).is_ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 15043, 3186}));
  ASSERT_TRUE(tok->encode("\n", false, &ids).is_ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{29871, 13}));
  // Control tokens written in the text are parsed (like HF's LlamaTokenizer); each text segment
  // gets its own dummy prefix (HF legacy behaviour).
  ASSERT_TRUE(tok->encode("<s>Hi</s>", false, &ids).is_ok());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(*tok->decode(ids, true), "Hi");
  EXPECT_EQ(*tok->decode(ids, false), "<s> Hi</s>");
}

TEST(SentencePieceModel, MixtralModelMatchesMixtralJson) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(model, "mixtral-8x7b.model");
  MOTE_LOAD_TOKENIZER_OR_SKIP(json, "mixtral-8x7b");
  ASSERT_EQ(model->vocab_size(), json->vocab_size());
  for (int32_t id = 0; id < model->vocab_size(); id += 97) EXPECT_EQ(model->token_text(id), json->token_text(id));
  for (const char* rel : {"corpora/tinyshakespeare.txt", "corpora/war-and-peace.txt", "eval/wikitext-2-raw-test.txt",
                          "eval/gsm8k-test.jsonl"}) {
    std::string text = read_file_bytes(shared_data() / rel);
    std::vector<int32_t> a, b;
    ASSERT_TRUE(model->encode(text, true, &a).is_ok());
    ASSERT_TRUE(json->encode(text, true, &b).is_ok());
    EXPECT_EQ(a.size(), b.size()) << rel;
    EXPECT_TRUE(a == b) << rel;
  }
}

TEST(SentencePieceModel, Mixtral8x22bV3ControlTokens) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "mixtral-8x22b-v3.model");
  EXPECT_EQ(tok->vocab_size(), 32768);
  int32_t inst = tok->find_token("[INST]"), end_inst = tok->find_token("[/INST]");
  ASSERT_GE(inst, 0);
  ASSERT_GE(end_inst, 0);
  EXPECT_TRUE(tok->is_special(inst));
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("[INST] Hi [/INST]", true, &ids).is_ok());
  EXPECT_EQ(ids[0], tok->bos_id());
  EXPECT_EQ(ids[1], inst);
  EXPECT_EQ(ids.back(), end_inst);
  EXPECT_NE(tok->decode(ids, true)->find("Hi"), std::string::npos);
}

}  // namespace
}  // namespace mote::test
