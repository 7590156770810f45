#!/usr/bin/env python3
"""Drives `mote serve` with the official `openai` Python client (PyPI).

Run by tests/serve/openai_client_test.cpp against a server started with --api-key:
    openai_client_check.py --base-url http://127.0.0.1:PORT/v1 --api-key KEY --model NAME
Exits 0 when every check passes; prints one line per check, and the failure otherwise.
"""
import argparse
import os
import sys

# Loopback only: never route through a proxy from the environment.
for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(var, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"

import openai  # noqa: E402

PROMPT = "ROMEO: But soft, what light through yonder window breaks?"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--model", required=True)
    a = ap.parse_args()
    client = openai.OpenAI(base_url=a.base_url, api_key=a.api_key, max_retries=0, timeout=60)

    # Models list.
    models = client.models.list()
    ids = [m.id for m in models.data]
    check(a.model in ids, f"models.list() has {a.model}: {ids}")
    print(f"ok models.list: {ids}")

    # Chat, non-streaming.
    messages = [{"role": "system", "content": "Thou art a player."}, {"role": "user", "content": PROMPT}]
    r = client.chat.completions.create(model=a.model, messages=messages, max_tokens=16, temperature=0)
    check(r.object == "chat.completion", f"object {r.object}")
    check(len(r.choices) == 1, f"{len(r.choices)} choices")
    msg = r.choices[0].message
    check(msg.role == "assistant", f"role {msg.role}")
    check(isinstance(msg.content, str), f"content {msg.content!r}")
    check(r.choices[0].finish_reason in ("stop", "length"), f"finish_reason {r.choices[0].finish_reason}")
    u = r.usage
    check(u is not None and u.prompt_tokens > 0, f"usage {u}")
    check(u.total_tokens == u.prompt_tokens + u.completion_tokens, f"usage sums {u}")
    print(f"ok chat: {msg.content!r} finish={r.choices[0].finish_reason} usage={u.prompt_tokens}+{u.completion_tokens}")

    # Chat, streaming with include_usage: the deltas add up to the greedy reply.
    stream = client.chat.completions.create(model=a.model, messages=messages, max_tokens=16, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    text, finish, usage, n = "", None, None, 0
    for chunk in stream:
        n += 1
        check(chunk.object == "chat.completion.chunk", f"chunk object {chunk.object}")
        if chunk.usage is not None:
            check(chunk.choices == [], f"usage chunk has choices []: {chunk}")
            usage = chunk.usage
            continue
        for ch in chunk.choices:
            if ch.delta and ch.delta.content:
                text += ch.delta.content
            if ch.finish_reason:
                finish = ch.finish_reason
    check(finish in ("stop", "length"), f"stream finish_reason {finish}")
    check(usage is not None, "stream with include_usage ends with a usage chunk")
    check(usage.completion_tokens == u.completion_tokens, f"stream usage {usage} vs {u}")
    check(text == msg.content, f"streamed {text!r} != non-streamed {msg.content!r}")
    print(f"ok chat stream: {n} chunks, {text!r}, usage={usage.prompt_tokens}+{usage.completion_tokens}")

    # Completions.
    c = client.completions.create(model=a.model, prompt="ROMEO:\n", max_tokens=8, temperature=0)
    check(c.object == "text_completion", f"object {c.object}")
    check(isinstance(c.choices[0].text, str), f"text {c.choices[0].text!r}")
    check(c.choices[0].finish_reason in ("stop", "length"), f"finish_reason {c.choices[0].finish_reason}")
    check(c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens, f"usage {c.usage}")
    print(f"ok completions: {c.choices[0].text!r}")
    cs = client.completions.create(model=a.model, prompt="ROMEO:\n", max_tokens=8, temperature=0, stream=True)
    streamed = "".join(ch.choices[0].text for ch in cs if ch.choices)
    check(streamed == c.choices[0].text, f"streamed completion {streamed!r} != {c.choices[0].text!r}")
    print("ok completions stream")

    # Errors map onto the client's exception classes.
    try:
        client.chat.completions.create(model=a.model, messages=messages, max_tokens=4, temperature=5)
        check(False, "temperature 5 should raise BadRequestError")
    except openai.BadRequestError as e:
        check(e.status_code == 400, f"status {e.status_code}")
        body = e.body if isinstance(e.body, dict) else {}
        check(body.get("param") == "temperature" or "temperature" in str(body.get("param")),
              f"param names temperature: {e.body}")
        print(f"ok BadRequestError: {e.body}")
    try:
        client.chat.completions.create(model=a.model, messages=[{"role": "wizard", "content": "x"}], max_tokens=4)
        check(False, "a bad role should raise BadRequestError")
    except openai.BadRequestError as e:
        print(f"ok BadRequestError (role): {e.body}")
    try:
        client.chat.completions.create(model="no-such-model", messages=messages, max_tokens=4)
        check(False, "an unknown model should raise NotFoundError")
    except openai.NotFoundError as e:
        check(e.code == "model_not_found", f"code {e.code}")
        print(f"ok NotFoundError: {e.body}")
    bad = openai.OpenAI(base_url=a.base_url, api_key="wrong-key", max_retries=0, timeout=30)
    try:
        bad.models.list()
        check(False, "a wrong API key should raise AuthenticationError")
    except openai.AuthenticationError as e:
        check(e.status_code == 401, f"status {e.status_code}")
        print(f"ok AuthenticationError: {e.body}")
    try:
        bad.chat.completions.create(model=a.model, messages=messages, max_tokens=4)
        check(False, "a wrong API key should raise AuthenticationError on chat")
    except openai.AuthenticationError:
        print("ok AuthenticationError (chat)")
    print("ALL OK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    except openai.APIError as e:
        print(f"FAIL: unexpected {type(e).__name__}: {e}")
        sys.exit(1)
