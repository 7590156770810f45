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
    "deepseek_v2": ("deepseek-v3", ("config", "deepseek-v3")),
    "qwen3_moe": ("qwen3", ("config", "qwen3")),
    "qwen2_moe": ("qwen3", ("file", os.path.join(TPL, "Qwen-Qwen2.5-7B-Instruct.jinja"))),
    "olmoe": ("olmoe", ("inline", CHATML)),
    "mixtral": ("mixtral-8x7b", ("file", os.path.join(HERE, "mixtral-8x7b-instruct-v0.1.jinja"))),
    "qwen2": ("qwen3", ("file", os.path.join(TPL, "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"))),
    "gpt_oss": ("gpt-oss", ("file", os.path.join(TPL, "openai-gpt-oss-120b.jinja"))),
}


def token_text(v):
    if v is None:
        return ""
    return v["content"] if isinstance(v, dict) else v


def render(tok_dir, source):
    cfg_path = os.path.join(TOK, tok_dir, "tokenizer_config.json")
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
        tok = Tokenizer.from_file(os.path.join(TOK, tok_dir, "tokenizer.json"))
        ids = tok.encode(text, add_special_tokens=False).ids
        with open(os.path.join(out, family + ".txt"), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        with open(os.path.join(out, family + ".ids"), "w") as f:
            f.write(" ".join(map(str, ids)) + "\n")
        print(f"{family}: {len(text)} bytes, {len(ids)} ids")


if __name__ == "__main__":
    main()
