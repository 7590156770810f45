#!/usr/bin/env python3
"""Writes tests/real_shaped/golden/<family>.{txt,ids}: the two-turn chat of real_shaped_test.cpp
rendered with each family's real Jinja chat template (jinja2, as transformers renders it:
trim_blocks, lstrip_blocks, add_generation_prompt=True) and its ids from the Hugging Face
`tokenizers` library (Tokenizer.from_file(tokenizer.json).encode(text, add_special_tokens=False):
the template already holds BOS; special tokens in the text are matched, as mote does for a rendered
chat). Only needed to regenerate the goldens; the build and the tests never run Python.

    pip install tokenizers jinja2 && python3 tests/real_shaped/make_goldens.py
"""
import datetime
import json
import os
import struct

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "shared", "data")
TOK = os.path.join(DATA, "tokenizers")
TPL = os.path.join(DATA, "chat-templates")

# Keep in sync with kMessages in real_shaped_test.cpp. Plain text only (no special-token strings).
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "And of Italy? Answer in one word."},
]
GPT_OSS_DATE = "2025-01-01"  # the test puts this date in place of today's (the template asks strftime_now)

# OLMoE-1B-7B ships no chat template (its instruct model's Tulu format is not a family mote
# renders); the test opens it with chat_template = "chatml", rendered here by this ChatML template.
CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

# family: (tokenizer dir, template: ("config", dir) | ("file", path) | ("inline", text))
FAMILIES = {
    "deepseek_v3": ("deepseek-v3", ("config", "deepseek-v3")),
    # the V2 vocabulary from the GGUF file; rendered as mote's deepseek-v3 family (no V2-Chat family)
    "deepseek_v2": ("gguf", ("config", "deepseek-v3")),
    "qwen3_moe": ("qwen3", ("config", "qwen3")),
    "qwen2_moe": ("qwen3", ("file", os.path.join(TPL, "Qwen-Qwen2.5-7B-Instruct.jinja"))),
    "olmoe": ("olmoe", ("inline", CHATML)),
    "mixtral": ("mixtral-8x7b", ("file", os.path.join(HERE, "mixtral-8x7b-instruct-v0.1.jinja"))),
    "qwen2": ("qwen3", ("file", os.path.join(TPL, "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"))),
    "gpt_oss": ("gpt-oss", ("file", os.path.join(TPL, "openai-gpt-oss-120b.jinja"))),
}


# tokenizer-tests/ggml-vocab-deepseek-llm.gguf as tokenizer.json, exactly as gguf_vocab.cpp writes it.
GGUF = os.path.join(DATA, "tokenizer-tests", "ggml-vocab-deepseek-llm.gguf")
DEEPSEEK_LLM_SPLITS = [
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-"
    "ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-"
    "ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
]


def read_gguf_keys(path):
    data = open(path, "rb").read()
    pos = 24  # magic, u32 version, u64 tensor count
    n_keys = struct.unpack_from("<Q", data, 16)[0]
    scalars = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def value(t):
        nonlocal pos
        if t == 8:
            n = struct.unpack_from("<Q", data, pos)[0]
            pos += 8 + n
            return data[pos - n:pos].decode("utf-8")
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            return [value(et) for _ in range(n)]
        v = struct.unpack_from(scalars[t], data, pos)[0]
        pos += struct.calcsize(scalars[t])
        return v

    keys = {}
    for _ in range(n_keys):
        k = value(8)
        t = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        keys[k] = value(t)
    return keys


def gguf_tokenizer_json(path):
    k = read_gguf_keys(path)
    tokens, types = k["tokenizer.ggml.tokens"], k["tokenizer.ggml.token_type"]
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": ty == 4, "special": ty == 3} for i, (t, ty) in enumerate(zip(tokens, types)) if ty in (3, 4)]
    steps = [{"type": "Split", "pattern": {"Regex": r}, "behavior": "Isolated", "invert": False} for r in DEEPSEEK_LLM_SPLITS]
    steps.append({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False})
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": steps}, "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": k["tokenizer.ggml.merges"]}})


def token_text(v):
    if v is None:
        return ""
    return v["content"] if isinstance(v, dict) else v


def render(tok_dir, source):
    cfg_path = os.path.join(TOK, "deepseek-v3" if tok_dir == "gguf" else tok_dir, "tokenizer_config.json")
    cfg = json.load(open(cfg_path, encoding="utf-8")) if os.path.exists(cfg_path) else {}
    kind, where = source
    if kind == "config":
        text = cfg["chat_template"]
    elif kind == "file":
        text = open(where, encoding="utf-8").read()
    else:
        text = where
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.date.fromisoformat(GPT_OSS_DATE).strftime(fmt)
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    # enable_thinking: the shared R1-Distill template appends '</think>' (thinking off) unless it is
    # set; DeepSeek-R1 models think, and mote's deepseek-r1 family opens "<think>\n" as released.
    return env.from_string(text).render(messages=MESSAGES, add_generation_prompt=True, enable_thinking=True,
                                        bos_token=token_text(cfg.get("bos_token")),
                                        eos_token=token_text(cfg.get("eos_token")))


def main():
    out = os.path.join(HERE, "golden")
    os.makedirs(out, exist_ok=True)
    for family, (tok_dir, source) in FAMILIES.items():
        text = render(tok_dir, source)
        if tok_dir == "gguf":
            tok = Tokenizer.from_str(gguf_tokenizer_json(GGUF))
        else:
            tok = Tokenizer.from_file(os.path.join(TOK, tok_dir, "tokenizer.json"))
        ids = tok.encode(text, add_special_tokens=False).ids
        with open(os.path.join(out, family + ".txt"), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        with open(os.path.join(out, family + ".ids"), "w") as f:
            f.write(" ".join(map(str, ids)) + "\n")
        print(f"{family}: {len(text)} bytes, {len(ids)} ids")


if __name__ == "__main__":
    main()
