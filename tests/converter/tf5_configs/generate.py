#!/usr/bin/env python3
"""Writes <fixture>.json here: the config.json of each tests/fixtures/<fixture> re-saved by
transformers 5.x (`AutoConfig.for_model(**released).save_pretrained`), i.e. the key spellings a
checkpoint saved with transformers 5 carries (num_local_experts, rope_parameters, dtype, ...).
Only for producing test fixtures; the C++ tests read the JSON files and never need Python.

    pip install 'transformers>=5'        # no torch needed to build and save configs
    python3 tests/converter/tf5_configs/generate.py
"""
import json
import os
import sys
import tempfile

from transformers import AutoConfig

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures")
# One fixture per family (and the rope variants: yarn, llama3, mscale, group routing).
NAMES = ["ds3_tiny", "ds3_bias", "ds2_lite", "ds2_group", "qwen3_moe_tiny", "qwen3_moe_yarn",
         "qwen2_moe_tiny", "olmoe_tiny", "mixtral_swa", "llama_dense", "qwen2_dense", "gpt_oss_tiny"]


def resave(name):
    with open(os.path.join(FIXTURES, name, "config.json")) as f:
        released = json.load(f)
    cfg = AutoConfig.for_model(**released)
    with tempfile.TemporaryDirectory() as d:
        cfg.save_pretrained(d)
        with open(os.path.join(d, "config.json")) as f:
            text = f.read()
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    for n in sys.argv[1:] or NAMES:
        resave(n)
        print("wrote", n + ".json")
