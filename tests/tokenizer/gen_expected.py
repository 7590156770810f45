#!/usr/bin/env python3
"""Generates tests/tokenizer/expected_ids.json with the Hugging Face `tokenizers` library.

The C++ tests only read the JSON; Python is needed only to regenerate it:

    python3 tests/tokenizer/gen_expected.py [shared_data_dir]

For every tokenizer.json under shared/data/tokenizers it records, for a set of tricky strings,
the ids of `encode(text, add_special_tokens=False)` and both decodes of those ids, plus digests
(FNV-1a 64 of the little-endian int32 ids) of the encodings of 300 random strings built from
tricky pieces (stored once, shared by all tokenizers) and of each whole corpus file.
"""
import json
import os
import random
import sys

from tokenizers import Tokenizer

COMMON = [
    "", " ", "  ", "Hello world", " Hello world", "Hello World!", "  leading and trailing  ",
    "tabs\tand\nnewlines\r\n\n", "\n\n\n", "   ", "    indented\n\t\ttabs",
    "Numbers: 1 12 123 1234 12345 3.14159 1,000,000 ٣٤٥ ½",
    "don't I'll you're we've they'd SHE'S It'S",
    "Ünïcödé façade naïve café résumé",
    "e\u0301 decomposed e-acute, A\u030a, and \u212b (angstrom sign)",
    "中文分词测试：你好，世界！", "日本語のテキストとカタカナ、ひらがな。", "한국어 텍스트",
    "emoji 😀👍🏽 👨‍👩‍👧‍👦 flags 🇺🇸🇯🇵", "math ∑∫√∞ ≠ ≤ ≥ ∀x∈ℝ",
    "code: def f(x):\n    return x**2  # comment\n\tpass\n",
    "URL https://example.com/path?q=1&r=2#frag <tag attr=\"v\">",
    "a" * 300, "ab" * 150, "Zalgo t\u0338\u0322\u031be\u0335x\u0337t\u0336",
    "\u00a0nbsp\u3000ideographic space\u2009thin", "mixed中English混合text123数字",
    "...!!!???---___***", "1234567890" * 3, "x\u200by zero width \ufeff bom",
    "Россия — священная наша держава", "Ελληνικά κείμενα", "עברית", "العربية", "हिन्दी",
    "ไทย", "Tiếng Việt có dấu", "<not a special token> <s > < |im_start| >",
    "multiple     spaces      here", "trailing space ", " \n leading newline",
    "<think>\nreasoning\n</think>\n\nanswer",
]

SPECIFIC = {
    "deepseek-v3": [
        "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>Hi<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜>",
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
        "<｜fim▁begin｜>def f():<｜fim▁hole｜>\n<｜fim▁end｜>",
    ],
    "qwen3": [
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello<|im_end|>",
        "<tool_call>\n{\"name\": \"f\"}\n</tool_call><|endoftext|>",
    ],
    "gpt-oss": [
        "<|start|>system<|message|>You are ChatGPT.<|end|><|start|>user<|message|>What is 2 + 2?<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>",
        "<|endofprompt|><|startoftext|>x<|call|>",
        "HELLO World ThisIsCamelCase ALLCAPS'S",
    ],
    "mixtral-8x7b": [
        "<s>[INST] Hi [/INST]Hello!</s>[INST] Bye [/INST]",
        "Hello<s>world  x</s> y",
        "<unk> and <s>",
    ],
    "olmoe": [
        "<|endoftext|>text<|padding|>",
        "a    b\n\n   c   ",
        "|||IP_ADDRESS||| and |||EMAIL_ADDRESS||| |||PHONE_NUMBER|||",
    ],
}

# Pieces for random strings: scripts, combining marks (NFC-sensitive), whitespace kinds,
# contractions, digits, and special-token texts of every tokenizer.
PIECES = [" ", "  ", "\n", "\t", "\r\n", "a", "Z", "é", "e\u0301", "ß", "1", "23", "٣", "½", "'s", "'LL", ".",
          ",", "!?", "中", "文", "の", "カ", "한", "ж", "λ", "ע", "ب", "ह", "ไ", "😀", "👍🏽", "\u200d", "🇺",
          "\u3000", "\u00a0", "\u0301", "\ufeff", "<", ">", "|", "_", "▁", "Ġ", "<s>", "</s>", "<unk>",
          "<|im_start|>", "<|im_end|>", "<think>", "<｜User｜>", "<｜begin▁of▁sentence｜>", "<|endoftext|>",
          "<|start|>", "|||IP_ADDRESS|||", "   ", "\u212b", "Å", "ﬁ", "™", "①", "𝒜", "\x00", "\x7f", "\x1b",
          "http://", "$", "€", "...", "---"]
RANDOM_COUNT = 300

CORPORA = ["corpora/tinyshakespeare.txt", "corpora/war-and-peace.txt", "eval/wikitext-2-raw-test.txt",
           "eval/gsm8k-test.jsonl"]


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        for b in int(i).to_bytes(4, "little", signed=True):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def compact_dump(obj, depth=0):
    """JSON with one line per case / digest, so diffs stay readable."""
    if isinstance(obj, dict) and depth < 4:
        pad = "  " * (depth + 1)
        items = [pad + json.dumps(k, ensure_ascii=False) + ": " + compact_dump(v, depth + 1) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}" + ("\n" if depth == 0 else "")
    if isinstance(obj, list) and obj and isinstance(obj[0], (dict, str)):
        pad = "  " * (depth + 1)
        return "[\n" + ",\n".join(pad + json.dumps(v, ensure_ascii=False) for v in obj) + "\n" + "  " * depth + "]"
    return json.dumps(obj, ensure_ascii=False)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data")
    rng = random.Random(5)
    randoms = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30))) for _ in range(RANDOM_COUNT)]
    out = {"generator": "tests/tokenizer/gen_expected.py", "random_strings": randoms, "tokenizers": {}}
    for name in sorted(SPECIFIC):
        tok = Tokenizer.from_file(os.path.join(data, "tokenizers", name, "tokenizer.json"))
        cases = []
        for text in COMMON + SPECIFIC[name]:
            ids = tok.encode(text, add_special_tokens=False).ids
            cases.append({"text": text, "ids": ids,
                          "decoded": tok.decode(ids, skip_special_tokens=False),
                          "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
        digests = {}
        for rel in CORPORA:
            with open(os.path.join(data, rel), encoding="utf-8", newline="") as f:
                ids = tok.encode(f.read(), add_special_tokens=False).ids
            digests[rel] = {"count": len(ids), "fnv1a64": "%016x" % fnv1a64(ids)}
        random_digests = ["%016x" % fnv1a64(tok.encode(t, add_special_tokens=False).ids) for t in randoms]
        out["tokenizers"][name] = {"vocab_size": tok.get_vocab_size(), "cases": cases, "corpus_digests": digests,
                                   "random_digests": random_digests}
        print(name, len(cases), "cases", file=sys.stderr)
    with open(os.path.join(here, "expected_ids.json"), "w", encoding="utf-8") as f:
        f.write(compact_dump(out))


if __name__ == "__main__":
    main()
