"""SAE latent labelling: the scan keeps each latent's strongest contexts (one per text) and firing rate exactly as
the TopK SAE computes them; labels name a dominant token; the contrastive search finds a planted latent."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, LlamaConfig

from steerlab.build.activations import layer_activations
from steerlab.build.sae import TopKSAE
from steerlab.build.sae_features import concept_latents, label_latent, markdown, scan

D = 16


class CharTok:
    pad_token_id = 0

    def __call__(self, text, truncation=True, max_length=256):
        return {"input_ids": [1 + ord(c) % 60 for c in text][:max_length]}

    def decode(self, ids):
        return "".join(chr(ord("a") + (i - 1) % 26) for i in ids)


def tiny():
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=D, intermediate_size=32, num_hidden_layers=3, num_attention_heads=2,
                      num_key_value_heads=1, vocab_size=64)
    return AutoModelForCausalLM.from_config(cfg).eval()


TEXTS = ["hello world", "zzzz zzzz", "steering runtime", "xyz", "another text here", "qqq zzz"]


def test_scan_matches_a_direct_encode_and_keeps_one_context_per_text():
    model, tok = tiny(), CharTok()
    sae = TopKSAE(D, 12, 3, seed=1)
    sc = scan(sae, 0.5, model, tok, TEXTS, ["wikipedia"] * 5 + ["python-code"], layer=1, n_top=3, batch_size=4)
    z = [sae.encode(a * 0.5) for a in layer_activations(model, tok, TEXTS, 1)]
    allz = torch.cat(z)
    torch.testing.assert_close(sc.freq, (allz > 0).float().mean(0))
    assert sc.n_tokens == sum(len(t) - 1 for t in TEXTS)
    best = torch.stack([x.max(0).values for x in z])  # [texts, F]
    for f in range(12):
        want = best[:, f].sort(descending=True).values[:3]
        torch.testing.assert_close(sc.top_val[f], want)
        texts = sc.top_text[f][sc.top_val[f] > 0].tolist()
        assert len(texts) == len(set(texts))  # one context per text
    live = int((sc.freq > 0).nonzero()[0])
    lab = label_latent(sc, live)
    assert lab.max_activation == float(sc.top_val[live, 0]) and lab.contexts and "«" in lab.contexts[0].snippet
    md = markdown([lab], title="t", intro="i", groups={"g": [live]})
    assert f"### latent {live}" in md and lab.label in md


def test_contrastive_search_finds_a_latent_that_reads_the_positive_direction():
    model, tok = tiny(), CharTok()
    pos, neg = ["zzzz zzzz zz"] * 4, ["hello world", "steering runtime", "abc def", "other words"]
    acts_p = torch.cat(list(layer_activations(model, tok, pos, 1)))
    acts_n = torch.cat(list(layer_activations(model, tok, neg, 1)))
    direction = acts_p.mean(0) - acts_n.mean(0)
    sae = TopKSAE(D, 8, 1, seed=0)
    with torch.no_grad():
        sae.W_enc.data[:, 5] = direction / direction.norm() * 10
        sae.b_dec.data = acts_n.mean(0)
    found = concept_latents(sae, 1.0, model, tok, pos, neg, layer=1, n=2)
    assert found[0][0] == 5 and found[0][1] == 1.0  # AUROC: every positive text beats every negative one
