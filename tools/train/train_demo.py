#!/usr/bin/env python3
"""Trains mote's demo model: a small DeepSeek-V3-architecture MoE on Shakespeare + War and Peace.

Architecture (the DeepSeek-V3 recipe at toy scale): MLA attention with q-LoRA and a latent KV,
DeepSeekMoE with one shared expert and 16 fine-grained routed experts (top-2 of 4 groups, 2 groups
kept), the sigmoid router with auxiliary-loss-free balancing (each router's
e_score_correction_bias moves by `--bias-rate` towards balance after every step, from the expert
loads of that step), the first layer dense, and one MTP module (layer num_hidden_layers) trained
with its own loss (weight `--mtp-weight`) to predict token i+2 from the main model's final-norm
hidden state at i and the embedding of token i+1 (embedding first, as the released V3 weights).

The main model is transformers' DeepseekV3ForCausalLM, so the saved checkpoint means exactly what
transformers (and mote's converter) read; the MTP block is transformers' DeepseekV3DecoderLayer.

Output (Hugging Face layout, DeepSeek-V3 tensor names, per-expert tensors, BF16):
  config.json, model.safetensors, tokenizer.json, tokenizer_config.json (V3 chat template),
  train_report.json (losses, held-out perplexity, routing statistics, MTP accuracy),
  reference.json (PyTorch logits of a few prompts for the runtime's tests).
Python and PyTorch are only needed to (re)train; mote builds, runs and tests without them.

Usage: python3 tools/train/train_demo.py --out samples/models/mote-demo [--minutes 30]
"""
import argparse
import json
import math
import os
import random
import time

# OpenMP threads that spin while waiting slow training ~10x when other processes share the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM
from transformers.masking_utils import create_causal_mask
from transformers.models.deepseek_v3.modeling_deepseek_v3 import (
    DeepseekV3DecoderLayer, DeepseekV3RMSNorm, DeepseekV3TopkRouter)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPORA = os.path.join(ROOT, "..", "shared", "data", "corpora")
V3_TOKENIZER_CONFIG = os.path.join(ROOT, "..", "shared", "data", "tokenizers", "deepseek-v3", "tokenizer_config.json")
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
SPECIALS = [BOS, EOS, "<｜User｜>", "<｜Assistant｜>"]


def model_config(vocab_size):
    return dict(
        architectures=["DeepseekV3ForCausalLM"], model_type="deepseek_v3", vocab_size=vocab_size,
        hidden_size=256, intermediate_size=768, moe_intermediate_size=128, num_hidden_layers=4,
        num_nextn_predict_layers=1, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=96,
        kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32, n_routed_experts=16,
        n_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1, moe_layer_freq=1, n_group=4,
        topk_group=2, topk_method="noaux_tc", scoring_func="sigmoid", norm_topk_prob=True,
        routed_scaling_factor=1.0, rms_norm_eps=1e-6, rope_theta=10000.0, rope_scaling=None,
        max_position_embeddings=1024, hidden_act="silu", attention_bias=False, attention_dropout=0.0,
        tie_word_embeddings=False, initializer_range=0.02, bos_token_id=0, eos_token_id=1,
        aux_loss_alpha=0.0, seq_aux=False, ep_size=1, torch_dtype="bfloat16", use_cache=True)


# ---------------------------------------------------------------------------------------------
# Data and tokenizer
# ---------------------------------------------------------------------------------------------

def load_corpora(holdout):
    """Returns (train_texts, heldout_texts): the last `holdout` fraction of each corpus is held out."""
    train, held = [], []
    for name in ("tinyshakespeare.txt", "war-and-peace.txt"):
        with open(os.path.join(CORPORA, name), encoding="utf-8") as f:
            text = f.read().replace("\r\n", "\n")
        cut = int(len(text) * (1 - holdout))
        cut = text.rfind("\n\n", 0, cut) + 2  # split at a paragraph
        train.append(text[:cut])
        held.append(text[cut:])
    return train, held


def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def tokenizer_config():
    with open(V3_TOKENIZER_CONFIG, encoding="utf-8") as f:
        template = json.load(f)["chat_template"]
    return {"add_bos_token": True, "add_eos_token": False, "bos_token": BOS, "eos_token": EOS,
            "pad_token": EOS, "clean_up_tokenization_spaces": False, "legacy": True,
            "model_max_length": 1024, "tokenizer_class": "LlamaTokenizerFast", "chat_template": template}


def encode_stream(tok, texts):
    bos, eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
    ids = []
    for t in texts:
        ids += [bos] + tok.encode(t).ids + [eos]
    return torch.tensor(ids, dtype=torch.long)


# ---------------------------------------------------------------------------------------------
# Model: transformers' DeepSeek-V3 + an MTP module
# ---------------------------------------------------------------------------------------------

class Mtp(nn.Module):
    """DeepSeek-V3's MTP module (as vLLM's deepseek_mtp.py):
    z = eh_proj([enorm(emb(t_{i+1})); hnorm(H_i)]) -> decoder block -> shared_head.norm -> the main
    lm_head (shared)."""

    def __init__(self, config):
        super().__init__()
        h = config.hidden_size
        self.enorm = DeepseekV3RMSNorm(h, config.rms_norm_eps)
        self.hnorm = DeepseekV3RMSNorm(h, config.rms_norm_eps)
        self.eh_proj = nn.Linear(2 * h, h, bias=False)
        self.block = DeepseekV3DecoderLayer(config, layer_idx=config.num_hidden_layers)
        self.head_norm = DeepseekV3RMSNorm(h, config.rms_norm_eps)

    def forward(self, main, next_ids, hidden, position_ids):
        e = main.model.embed_tokens(next_ids)
        z = self.eh_proj(torch.cat([self.enorm(e), self.hnorm(hidden)], dim=-1))
        mask = create_causal_mask(config=main.config, inputs_embeds=z, attention_mask=None,
                                  past_key_values=None, position_ids=position_ids)
        pos = main.model.rotary_emb(z, position_ids)
        z = self.block(z, attention_mask=mask, position_ids=position_ids, position_embeddings=pos)
        return main.lm_head(self.head_norm(z))


def routers(module):
    return [m for m in module.modules() if isinstance(m, DeepseekV3TopkRouter)]


def count_loads(router_list):
    """Adds a `loads` counter [E] to every router, filled by a forward hook from its top-k ids."""
    for r in router_list:
        r.loads = torch.zeros(r.num_experts)
        r.last_ids = None

        def hook(mod, _inputs, out):
            ids = out[2].detach()
            mod.loads += torch.bincount(ids.flatten(), minlength=mod.num_experts).float()
            mod.last_ids = ids
        r.register_forward_hook(hook)


@torch.no_grad()
def update_biases(router_list, rate):
    """Auxiliary-loss-free balancing: b_e += rate * sign(mean load - load_e), then reset loads."""
    for r in router_list:
        r.e_score_correction_bias += rate * torch.sign(r.loads.mean() - r.loads)
        r.loads.zero_()


def losses(main, mtp, batch):
    """batch [B, T+2]: main predicts x[1:T+1] from x[:T]; MTP predicts x[2:T+2]."""
    T = batch.shape[1] - 2
    x = batch[:, :T]
    pos = torch.arange(T).unsqueeze(0)
    hidden = main.model(input_ids=x, position_ids=pos).last_hidden_state  # after model.norm
    logits = main.lm_head(hidden)
    loss_main = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:T + 1].flatten())
    mtp_logits = mtp(main, batch[:, 1:T + 1], hidden, pos)
    loss_mtp = F.cross_entropy(mtp_logits.flatten(0, 1), batch[:, 2:T + 2].flatten())
    return loss_main, loss_mtp, logits, mtp_logits


# ---------------------------------------------------------------------------------------------
# Evaluation and statistics
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(main, mtp, data, seq, max_windows=64):
    """Held-out perplexity (main), MTP top-1 accuracy, and the rate at which the MTP's top-1
    equals the main model's own next-next argmax (what greedy speculation accepts)."""
    main.eval()
    mtp.eval()
    nll, n, mtp_ok, agree, n_mtp = 0.0, 0, 0, 0, 0
    starts = range(0, len(data) - seq - 2, seq)[:max_windows]
    for s in starts:
        b = data[s:s + seq + 2].unsqueeze(0)
        lm, _, logits, mtp_logits = losses(main, mtp, b)
        nll += lm.item() * seq
        n += seq
        draft = mtp_logits[0, :-1].argmax(-1)               # predicts t_{i+2}, i < T-1
        mtp_ok += (draft == b[0, 2:seq + 1]).sum().item()
        agree += (draft == logits[0, 1:].argmax(-1)).sum().item()  # main's argmax for t_{i+2}
        n_mtp += seq - 1
    main.train()
    mtp.train()
    return {"perplexity": math.exp(nll / n), "tokens": n, "mtp_top1": mtp_ok / n_mtp,
            "mtp_agrees_with_main_argmax": agree / n_mtp}


@torch.no_grad()
def routing_stats(main, data, seq, windows=16):
    """Per MoE layer: load share of each expert, max/mean load, and how often consecutive tokens
    share at least one routed expert (what an expert cache can exploit)."""
    main.eval()
    rs = routers(main)
    for r in rs:
        r.loads.zero_()
    reuse = [0.0] * len(rs)
    pairs = 0
    for s in range(0, min(len(data) - seq, windows * seq), seq):
        main.model(input_ids=data[s:s + seq].unsqueeze(0))
        for i, r in enumerate(rs):
            ids = r.last_ids  # [T, k]
            same = (ids[1:].unsqueeze(2) == ids[:-1].unsqueeze(1)).any(-1).any(-1)
            reuse[i] += same.float().sum().item()
        pairs += seq - 1
    out = []
    for i, r in enumerate(rs):
        load = r.loads / r.loads.sum()
        out.append({"layer": i + main.config.first_k_dense_replace, "load_share": [round(x, 4) for x in load.tolist()],
                    "max_over_mean": round((load.max() / load.mean()).item(), 3),
                    "consecutive_token_shares_an_expert": round(reuse[i] / pairs, 4),
                    "bias": [round(x, 4) for x in r.e_score_correction_bias.tolist()]})
        r.loads.zero_()
    main.train()
    return out


# ---------------------------------------------------------------------------------------------
# Saving in DeepSeek-V3 tensor names
# ---------------------------------------------------------------------------------------------

def deepseek_state(main, mtp, cfg):
    """Per-expert DeepSeek-V3 names (transformers v5 fuses experts; the files use one tensor each)."""
    L, I = cfg["num_hidden_layers"], cfg["moe_intermediate_size"]
    out = {}

    def put_block(prefix, sd):
        for name, t in sd.items():
            if name.endswith("experts.gate_up_proj"):
                base = prefix + name[: -len("gate_up_proj")]
                for e in range(t.shape[0]):
                    out[f"{base}{e}.gate_proj.weight"] = t[e, :I]
                    out[f"{base}{e}.up_proj.weight"] = t[e, I:]
            elif name.endswith("experts.down_proj"):
                base = prefix + name[: -len("down_proj")]
                for e in range(t.shape[0]):
                    out[f"{base}{e}.down_proj.weight"] = t[e]
            else:
                out[prefix + name] = t

    sd = main.state_dict()
    for name, t in sd.items():
        if not name.startswith("model.layers."):
            out[name] = t
    for l in range(L):
        put_block(f"model.layers.{l}.", {k[len(f"model.layers.{l}."):]: v for k, v in sd.items()
                                          if k.startswith(f"model.layers.{l}.")})
    p = f"model.layers.{L}."
    put_block(p, mtp.block.state_dict())
    out[p + "embed_tokens.weight"] = sd["model.embed_tokens.weight"]
    out[p + "enorm.weight"] = mtp.enorm.weight
    out[p + "hnorm.weight"] = mtp.hnorm.weight
    out[p + "eh_proj.weight"] = mtp.eh_proj.weight
    out[p + "shared_head.norm.weight"] = mtp.head_norm.weight
    out[p + "shared_head.head.weight"] = sd["lm_head.weight"]
    result = {}
    for k, v in out.items():
        keep_f32 = k.endswith("e_score_correction_bias")
        result[k] = v.detach().to(torch.float32 if keep_f32 else torch.bfloat16).contiguous().clone()
    return result


@torch.no_grad()
def round_to_bf16(module):
    for p in module.parameters():
        p.copy_(p.to(torch.bfloat16).to(torch.float32))


@torch.no_grad()
def reference_outputs(main, mtp, tok):
    """Logits of the saved (BF16-rounded) weights, computed in F32, for the runtime's tests."""
    main.eval()
    mtp.eval()
    refs = []
    for text in ("ROMEO:\nWhat light", "It was in July, 1805, and the speaker"):
        ids = [tok.token_to_id(BOS)] + tok.encode(text).ids
        x = torch.tensor([ids])
        pos = torch.arange(len(ids)).unsqueeze(0)
        hidden = main.model(input_ids=x, position_ids=pos).last_hidden_state
        logits = main.lm_head(hidden)[0]
        greedy = main.generate(x, max_new_tokens=16, do_sample=False)[0, len(ids):].tolist()
        nxt = logits.argmax(-1)  # MTP input at i: argmax-free: use the true next ids, last = greedy next
        mtp_in = torch.tensor([ids[1:] + [int(nxt[-1])]])
        mtp_logits = mtp(main, mtp_in, hidden, pos)[0]
        refs.append({"text": text, "ids": ids, "greedy": greedy,
                     "last_logits": [round(v, 5) for v in logits[-1].tolist()],
                     "mtp_input_ids": mtp_in[0].tolist(),
                     "mtp_last_logits": [round(v, 5) for v in mtp_logits[-1].tolist()]})
    return refs


# ---------------------------------------------------------------------------------------------

def main_cli():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=30.0, help="training time budget (wall clock)")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0 = time budget only)")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--mtp-weight", type=float, default=0.3)
    ap.add_argument("--bias-rate", type=float, default=1e-3)
    ap.add_argument("--holdout", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    train_texts, held_texts = load_corpora(args.holdout)
    tok = train_tokenizer(train_texts, args.vocab)
    train_ids, held_ids = encode_stream(tok, train_texts), encode_stream(tok, held_texts)
    print(f"tokenizer: {tok.get_vocab_size()} tokens; train {len(train_ids)} tokens, held-out {len(held_ids)}")

    cfg = model_config(tok.get_vocab_size())
    hf_cfg = DeepseekV3Config(**{k: v for k, v in cfg.items() if k not in ("architectures", "torch_dtype")},
                              attn_implementation="sdpa")
    main = DeepseekV3ForCausalLM(hf_cfg)
    mtp = Mtp(hf_cfg)
    mtp.apply(main._init_weights)
    all_routers = routers(main) + routers(mtp)
    count_loads(all_routers)
    params = list(main.parameters()) + list(mtp.parameters())
    print(f"parameters: {sum(p.numel() for p in main.parameters()) / 1e6:.2f} M main + "
          f"{sum(p.numel() for p in mtp.parameters()) / 1e6:.2f} M MTP")
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)

    budget_s = args.minutes * 60
    t0 = time.time()
    step, log = 0, []
    warmup = 50
    while True:
        elapsed = time.time() - t0
        progress = elapsed / budget_s if not args.steps else step / args.steps
        if progress >= 1.0:
            break
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(train_ids) - args.seq - 2, (args.batch,))
        batch = torch.stack([train_ids[s:s + args.seq + 2] for s in starts])
        loss_main, loss_mtp, _, _ = losses(main, mtp, batch)
        loss = loss_main + args.mtp_weight * loss_mtp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        update_biases(all_routers, args.bias_rate)
        step += 1
        if step % 25 == 0:
            entry = {"step": step, "seconds": round(time.time() - t0, 1), "lr": round(lr, 6),
                     "loss": round(loss_main.item(), 4), "mtp_loss": round(loss_mtp.item(), 4)}
            log.append(entry)
            tok_s = step * args.batch * args.seq / (time.time() - t0)
            print(f"step {step}: loss {entry['loss']:.3f} mtp {entry['mtp_loss']:.3f} lr {lr:.2e} "
                  f"({tok_s:.0f} tok/s, {entry['seconds']:.0f} s)", flush=True)
    train_s = time.time() - t0

    round_to_bf16(main)
    round_to_bf16(mtp)
    ev = evaluate(main, mtp, held_ids, args.seq)
    stats = routing_stats(main, held_ids, args.seq)
    print(f"held-out perplexity {ev['perplexity']:.2f}, MTP top-1 {ev['mtp_top1']:.3f}, "
          f"MTP agrees with main argmax {ev['mtp_agrees_with_main_argmax']:.3f}")

    state = deepseek_state(main, mtp, cfg)
    tmp = os.path.join(args.out, "model.safetensors.tmp")
    save_file(state, tmp, metadata={"format": "pt"})
    os.replace(tmp, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(dict(sorted(cfg.items())), f, indent=1)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(), f, indent=1, ensure_ascii=False)
    refs = reference_outputs(main, mtp, tok)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(refs, f)
    for r in refs:
        print(repr(r["text"]), "->", repr(tok.decode(r["greedy"])))
    report = {"train_seconds": round(train_s, 1), "steps": step, "batch": args.batch, "seq": args.seq,
              "tokens_seen": step * args.batch * args.seq, "train_tokens": len(train_ids),
              "heldout": ev, "routing": stats, "log": log, "args": vars(args), "torch": torch.__version__}
    with open(os.path.join(args.out, "train_report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main_cli()
