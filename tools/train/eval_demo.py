#!/usr/bin/env python3
"""Evaluates a demo checkpoint written by train_demo.py in PyTorch (F32 compute on its BF16
weights), with exactly the protocol of `mote perplexity` so the two compare:

  ids = tokenizer(text) with BOS first; windows of ctx + 1 tokens start every ctx tokens; each
  window's first ctx tokens run from an empty context and score the ctx tokens that follow;
  perplexity = exp(mean NLL).

Also reports the MTP module's greedy draft acceptance on the same windows (the draft for t_{i+2}
made from H_i and t_{i+1} equals the main model's argmax for t_{i+2}).

Usage: python3 tools/train/eval_demo.py samples/models/mote-demo [--text heldout.txt] [--ctx 128]
       python3 tools/train/eval_demo.py DIR --write-heldout   (regenerates DIR/heldout.txt)
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_demo  # noqa: E402


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    hf_cfg = DeepseekV3Config(**{k: v for k, v in cfg.items() if k not in ("architectures", "torch_dtype")},
                              attn_implementation="sdpa")
    main = DeepseekV3ForCausalLM(hf_cfg)
    mtp = train_demo.Mtp(hf_cfg)
    sd = {k: v.float() for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    L, E = cfg["num_hidden_layers"], cfg["n_routed_experts"]

    def fuse(prefix):  # per-expert tensors of one layer -> transformers' fused [E, ...] tensors
        gate_up = [torch.cat([sd.pop(f"{prefix}mlp.experts.{e}.gate_proj.weight"),
                              sd.pop(f"{prefix}mlp.experts.{e}.up_proj.weight")], 0) for e in range(E)]
        down = [sd.pop(f"{prefix}mlp.experts.{e}.down_proj.weight") for e in range(E)]
        return {f"{prefix}mlp.experts.gate_up_proj": torch.stack(gate_up), f"{prefix}mlp.experts.down_proj": torch.stack(down)}

    for l in range(cfg["first_k_dense_replace"], L + 1):
        sd.update(fuse(f"model.layers.{l}."))
    p = f"model.layers.{L}."
    mtp_sd = {"enorm.weight": sd.pop(p + "enorm.weight"), "hnorm.weight": sd.pop(p + "hnorm.weight"),
              "eh_proj.weight": sd.pop(p + "eh_proj.weight"), "head_norm.weight": sd.pop(p + "shared_head.norm.weight")}
    sd.pop(p + "embed_tokens.weight")
    sd.pop(p + "shared_head.head.weight")
    for k in [k for k in sd if k.startswith(p)]:
        mtp_sd["block." + k[len(p):]] = sd.pop(k)
    main.load_state_dict(sd, strict=True)
    mtp.load_state_dict(mtp_sd, strict=True)
    main.eval()
    mtp.eval()
    return main, mtp


@torch.no_grad()
def perplexity(main, mtp, ids, ctx, max_tokens=0):
    if max_tokens and len(ids) > max_tokens + 1:
        ids = ids[: max_tokens + 1]
    nll, scored, accept, drafts = 0.0, 0, 0, 0
    for start in range(0, len(ids) - 1, ctx):
        n = min(ctx, len(ids) - 1 - start)
        x = torch.tensor([ids[start:start + n]])
        y = torch.tensor(ids[start + 1:start + n + 1])
        pos = torch.arange(n).unsqueeze(0)
        hidden = main.model(input_ids=x, position_ids=pos).last_hidden_state
        logits = main.lm_head(hidden)[0]
        nll += F.cross_entropy(logits.double(), y, reduction="sum").item()
        scored += n
        if n >= 2:  # MTP at i < n-1 drafts t_{i+2} from (t_{i+1}, H_i); the main argmax at i+1 judges it
            draft = mtp(main, y.unsqueeze(0), hidden, pos)[0, :-1].argmax(-1)
            accept += (draft == logits[1:].argmax(-1)).sum().item()
            drafts += n - 1
    return {"perplexity": math.exp(nll / scored), "mean_nll": nll / scored, "tokens_scored": scored,
            "mtp_greedy_acceptance": accept / max(drafts, 1)}


def main_cli():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--text", default="")
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--max-tokens", type=int, default=0)
    ap.add_argument("--write-heldout", action="store_true")
    args = ap.parse_args()
    heldout = os.path.join(args.model_dir, "heldout.txt")
    if args.write_heldout:
        with open(os.path.join(args.model_dir, "train_report.json")) as f:
            frac = json.load(f)["args"]["holdout"]
        _, held = train_demo.load_corpora(frac)
        with open(heldout, "w", encoding="utf-8") as f:
            f.write("\n".join(held))
        print(f"wrote {heldout}")
        return
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    tok = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    with open(args.text or heldout, encoding="utf-8") as f:
        text = f.read()
    ids = [tok.token_to_id(train_demo.BOS)] + tok.encode(text).ids
    main, mtp = load(args.model_dir)
    print(json.dumps(perplexity(main, mtp, ids, args.ctx, args.max_tokens)))


if __name__ == "__main__":
    main_cli()
