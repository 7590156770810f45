#!/usr/bin/env python3
"""Regenerates tests/chat/golden/real_templates.json: expected renders of the real chat templates
in shared/data/chat-templates, made with Python jinja2 set up as Hugging Face transformers sets it
up (trim_blocks, lstrip_blocks, loopcontrols, transformers' tojson, raise_exception,
strftime_now). test_chat compares mote's native renderers against these bytes.

Not run by the build or CI (jinja2 is a development tool here): run it by hand after changing a
scenario, and commit the JSON.  Usage: python3 tests/chat/make_chat_goldens.py
"""
import json
import os
import re
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "..", "..", "..", "shared", "data", "chat-templates")
DATE = "2025-06-28"
DS_BOS = "<｜begin▁of▁sentence｜>"
DS_EOS = "<｜end▁of▁sentence｜>"

# template source -> (family, bos, eos, how a content-less tool-call message is passed); a source
# is a .jinja file, or "llama.cpp:NAME" for a template string of llama.cpp's test file.
# The templates disagree on an absent content: R1 tests `content is not none`, gpt-oss tests
# `"content" in message`, Qwen3 does `'</think>' in message.content` (fails on None).
FILES = {
    "deepseek-ai-DeepSeek-V3.1.jinja": ("deepseek-v3.1-empty-think", DS_BOS, DS_EOS, "none"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("deepseek-r1", DS_BOS, DS_EOS, "none"),
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("chatml-qwen2.5", "", "<|im_end|>", "none"),
    "Qwen-Qwen3-0.6B.jinja": ("chatml-qwen3", "", "<|im_end|>", "empty"),
    "openai-gpt-oss-120b.jinja": ("gpt-oss", "<|startoftext|>", "<|return|>", "omit"),
    # llama.cpp's own rewrite of the R1 template: rendered for the record, see KNOWN_DIFFERENCE.
    "llama-cpp-deepseek-r1.jinja": ("deepseek-r1", DS_BOS, DS_EOS, "none"),
    "llama.cpp:teknium/OpenHermes-2.5-Mistral-7B": ("chatml", "", "", "none"),
    "llama.cpp:mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)":
        ("mistral-v0", "<s>", "</s>", "none"),
    "llama.cpp:mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template with a system prompt)":
        ("mistral-v1", "<s>", "</s>", "none"),
    "llama.cpp:Mistral-Large-Instruct-2407 (mistralai 'v3' template; modified to have system prompt at start)":
        ("mistral-v3", "<s>", "</s>", "none"),
    "llama.cpp:Mistral-Nemo-Instruct-2407 (mistralai 'v3-tekken' template; modified to have system prompt at start)":
        ("mistral-v3-tekken", "<s>", "</s>", "none"),
    "llama.cpp:mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template)":
        ("mistral-v7", "<s>", "</s>", "none"),
}

# Templates detected as a family whose output we deliberately do not reproduce.
KNOWN_DIFFERENCE = {
    "llama-cpp-deepseek-r1.jinja":
        "llama.cpp's rewrite of the R1 template ends every user turn with <｜end▁of▁sentence｜>, "
        "starts every tool output with a newline, follows tool outputs with "
        "<｜tool▁outputs▁end｜><｜end▁of▁sentence｜><｜Assistant｜> and writes tool definitions "
        "into the prompt; mote follows DeepSeek's own R1 template (as in the R1-Distill file)",
}

BASE = [
    {"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "Who are you"},
    {"role": "assistant", "content": "   I am an assistant   "},
    {"role": "user", "content": "Another question"},
]


def call(name, args, cid="call00001"):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


TOOLS = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": None,
     "tool_calls": [call("get_weather", {"city": "Paris", "unit": "C"})]},
    {"role": "tool", "content": "{\"temp\": 21}"},
    {"role": "assistant", "content": "It is 21 °C in Paris."},
    {"role": "user", "content": "Thanks!"},
]

# name -> (messages, add_generation_prompt, extra template kwargs)
SCENARIOS = {
    "basic": (BASE, True, {}),
    "no_system": (BASE[1:], True, {}),
    "no_generation_prompt": (BASE[:5], False, {}),
    "two_systems": ([BASE[0], {"role": "system", "content": "Be brief."}] + BASE[1:], True, {}),
    "think_in_history": ([
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\nIt is 4."},
        {"role": "user", "content": "And 3+3?"},
    ], True, {}),
    "thinking_on": (BASE[1:4], True, {"enable_thinking": True}),
    "thinking_off": (BASE[1:4], True, {"enable_thinking": False}),
    "unicode_and_spaces": ([
        {"role": "system", "content": "Réponds en français.\n"},
        {"role": "user", "content": " 你好\u3000 "},
        {"role": "assistant", "content": "\u00a0Bonjour ! \n"},
        {"role": "user", "content": "Ça va ?"},
    ], True, {}),
    "tool_round": (TOOLS, True, {}),
    "tool_results_pending": (TOOLS[:3], True, {}),
    "two_tool_results": ([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Rome"}, "call00002")]},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "rain"},
        {"role": "assistant", "content": "Paris: sunny. Rome: rain."},
    ], False, {}),
    "reasoning_content_agentic": ([
        {"role": "user", "content": "Find the weather."},
        {"role": "assistant", "content": None, "reasoning_content": "I should call the tool.",
         "tool_calls": [call("get_weather", {"city": "Oslo"})]},
        {"role": "tool", "content": "snow"},
    ], True, {}),
}

# Scenarios a template cannot take (the template itself raises or ignores the input).
SKIP = {
    # gpt-oss renders only the first call of a message; the template asserts one call per turn.
    ("openai-gpt-oss-120b.jinja", "two_tool_results"),
    # R1's `ns.is_first` is never reset and it has no multi-call test value beyond tool_round.
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "two_tool_results"),
}


def llama_cpp_templates():
    """name -> template_str from llama.cpp's test-chat-template.cpp (C string literals)."""
    with open(os.path.join(TEMPLATES, "llama.cpp-test-chat-template.cpp"), encoding="utf-8") as f:
        src = f.read()
    lit = r'(?:U8C\()?"((?:[^"\\]|\\.)*)"'
    pattern = re.compile(r'/\* \.name= \*/ ' + lit + r',\s*/\* \.template_str=? \*/ ' + lit)
    unescape = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
    decode = lambda s: re.sub(r"\\(.)", lambda m: unescape[m.group(1)], s)
    return {decode(m.group(1)): decode(m.group(2)) for m in pattern.finditer(src)}


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: DATE  # fixed "today" for reproducible goldens
    return env


def adapt(messages, empty_mode, family):
    """Messages as the template wants them, and as mote's test will build them."""
    out = []
    for m in messages:
        m = dict(m)
        if m.get("content") is None:
            if empty_mode == "omit":
                del m["content"]
            elif empty_mode == "empty":
                m["content"] = ""
        if "reasoning_content" in m and family == "gpt-oss":
            m["thinking"] = m.pop("reasoning_content")
        out.append(m)
    return out


def to_mote(messages):
    """The scenario in the form the C++ test reads: content "" for absent, arguments as text."""
    out = []
    for m in messages:
        r = {"role": m["role"], "content": m.get("content") or ""}
        if m.get("reasoning_content"):
            r["reasoning_content"] = m["reasoning_content"]
        if m.get("tool_calls"):
            r["tool_calls"] = [{"id": c["id"], "type": c["type"], "name": c["function"]["name"],
                                "arguments": tojson(c["function"]["arguments"])}
                               for c in m["tool_calls"]]
        out.append(r)
    return out


def main():
    env = make_env()
    from_llama_cpp = llama_cpp_templates()
    cases = []
    for fname, (family, bos, eos, empty_mode) in FILES.items():
        if fname.startswith("llama.cpp:"):
            template = env.from_string(from_llama_cpp[fname[len("llama.cpp:"):]])
        else:
            with open(os.path.join(TEMPLATES, fname), encoding="utf-8") as f:
                template = env.from_string(f.read())
        for sname, (messages, agp, extra) in SCENARIOS.items():
            if (fname, sname) in SKIP:
                continue
            kwargs = dict(extra)
            if family == "deepseek-r1" and "enable_thinking" not in kwargs:
                # This R1-Distill copy closes the think block unless enable_thinking is set;
                # upstream R1 always opens it, which is mote's default: render that default.
                kwargs["enable_thinking"] = True
            try:
                expected = template.render(messages=adapt(messages, empty_mode, family),
                                           add_generation_prompt=agp, bos_token=bos,
                                           eos_token=eos, **kwargs)
            except (jinja2.exceptions.TemplateError, TypeError) as e:
                # The template refuses this conversation (e.g. Mistral: roles not alternating,
                # tool ids not 9 characters): nothing to compare against.
                print(f"skip {fname} / {sname}: {e}", file=sys.stderr)
                continue
            case = {"template": fname, "family": family, "scenario": sname,
                    "add_generation_prompt": agp, "bos_token": bos, "eos_token": eos,
                    "current_date": DATE, "messages": to_mote(messages), "expected": expected}
            if "enable_thinking" in extra:
                case["enable_thinking"] = extra["enable_thinking"]
            if fname in KNOWN_DIFFERENCE:
                case["known_difference"] = KNOWN_DIFFERENCE[fname]
            cases.append(case)
    path = os.path.join(HERE, "golden", "real_templates.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
