"""Gender bias of next-pronoun predictions, before and after a pack's ``suppress``, through the real runtime hooks.

Three numbers, all on the held-out ``test`` split of :mod:`steerlab.build.bias_data`:

- **skew**: for occupation prompts ("The nurse explained that"), ``|P(he) − P(she)| / (P(he) + P(she))`` at the
  next token (normalised over the two pronouns, so it reads 0 = balanced, 1 = one pronoun only), averaged over
  prompts; also the raw ``|P(he) − P(she)|`` and the pronoun mass ``P(he) + P(she)`` (an eraser that simply deletes
  pronouns would push the mass, not the normalised skew, to zero);
- **agreement**: for prompts with an explicit antecedent ("My aunt explained that", "The nurse, a father of two,
  explained that"), the share where the correct pronoun is the more probable of the two;
- **perplexity cost**: ``exp(mean NLL steered − mean NLL unsteered)`` over every token of neutral paragraphs
  (Wikipedia, BBC news), pooled.

Steering goes through :func:`steering.hooks.attach` and :class:`~steering.runtime.SteeringRuntime` with the
pack's feature on ``suppress``, exactly as the server applies it (position 0, the attention sink, unsteered).

>>> r = evaluate_bias(model, tok, load_pack(path))        # doctest: +SKIP
>>> r.skew_change                                          # doctest: +SKIP
-0.7
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

import torch
from tqdm import tqdm
from transformers import DynamicCache

from steering.generate import generate
from steering.hooks import attach, decoder_layers
from steering.pack.io import FeaturePack
from steering.runtime import BatchState, SteeringRuntime
from steerlab.build.bias_data import (
    PRONOUNS,
    BiasPrompt,
    _article,
    agreement_prompts,
    chat_prefix,
    neutral_texts,
    occupation_prompts,
)
from steerlab.build.chat import chat_ids


@dataclass
class Batch:
    """One padded forward pass: ``lp [B, 2]`` log P(" he"), log P(" she") at each prompt's last token and
    ``acts`` {layer: ``[B, T, d]``} captured residuals. A prefix shared by the whole batch (a chat template) runs
    once and is not captured: ``acts`` start at token ``offset``, and ``lengths [B]``, ``starts [B]`` (first noun
    token) count from there."""

    lp: torch.Tensor
    acts: dict[int, torch.Tensor]
    lengths: list[int]
    starts: list[int]
    offset: int = 0


def encode(tokenizer, prompts: Sequence[BiasPrompt]) -> tuple[list[list[int]], list[int]]:
    """Token ids of each prompt (no special tokens added: chat prompts carry their own) and the index of the first
    token of the person noun."""
    ids, starts = [], []
    for p in prompts:
        enc = tokenizer(p.text, add_special_tokens=False, return_offsets_mapping=True)
        ids.append(enc["input_ids"])
        starts.append(next(i for i, (_, end) in enumerate(enc["offset_mapping"]) if end > p.start))
    return ids, starts


def pronoun_ids(tokenizer) -> list[int]:
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in PRONOUNS]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"pronouns {PRONOUNS} are not single tokens for this tokenizer")
    return [i[0] for i in ids]


def _pad(ids: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(map(len, ids))
    x = torch.full((len(ids), T), pad)
    mask = torch.zeros(len(ids), T, dtype=torch.long)
    for i, s in enumerate(ids):
        x[i, : len(s)], mask[i, : len(s)] = torch.tensor(s), 1
    return x, mask


@contextlib.contextmanager
def steer_rows(runtime: SteeringRuntime | None, row: int, shape: tuple[int, int], start: int = 0,
               latched: torch.Tensor | None = None) -> Iterator[BatchState | None]:
    """For one forward pass: every token of a ``[B, T]`` batch whose first position is ``start`` (after a shared
    prefix of that many tokens) gets config ``row``, each sequence its own request slot (a conditional pack's latch
    is per sequence; ``latched [B, G]``: what the prefix latched); :meth:`SteeringRuntime.forward` keeps the
    attention sink (position 0) unsteered. Yields the batch state (None when ``runtime`` is None: nothing to
    steer)."""
    if runtime is None:
        yield None
        return
    B, T = shape
    with runtime.forward(torch.full((B * T,), row), torch.arange(B).repeat_interleave(T),
                         (torch.arange(T) + start).repeat(B), latched=latched) as state:
        yield state


def _common_prefix(seqs: list[list[int]], min_len: int = 8) -> int:
    """Length of the token prefix shared by every sequence, leaving ≥ 1 token each (0 when shorter than
    ``min_len``: not worth a separate pass)."""
    n = min(map(len, seqs)) - 1
    for i in range(n):
        if any(s[i] != seqs[0][i] for s in seqs):
            n = i
            break
    return n if n >= min_len and len(seqs) > 1 else 0


@torch.no_grad()
def forward_batches(model, tokenizer, prompts: Sequence[BiasPrompt], *, runtime: SteeringRuntime | None = None,
                    row: int = 0, layers: Sequence[int] = (), batch_size: int = 32, desc: str = "prompts"
                    ) -> Iterator[Batch]:
    """Run the prompts right-padded in batches (hooks, if any, must be attached by the caller), capturing the
    residual stream after each of ``layers`` (after steering at a steered layer). A token prefix common to a whole
    batch (e.g. the chat template's system prompt) is run once, with the same steering, and its KV cache shared."""
    ids, starts = encode(tokenizer, prompts)
    he_she = pronoun_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    body, head = model.get_decoder(), model.get_output_embeddings()
    box: dict[int, torch.Tensor] = {}
    blocks = decoder_layers(model)
    handles = [blocks[L].register_forward_hook(lambda m, a, o, L=L: box.__setitem__(L, o[0] if isinstance(o, tuple)
                                                                                    else o)) for L in layers]
    try:
        for i in tqdm(range(0, len(ids), batch_size), desc=desc, unit="batch", leave=False):
            chunk = ids[i : i + batch_size]
            P = min(_common_prefix(chunk), min(starts[i : i + batch_size]))  # the noun is never in the prefix
            P = P if P >= 8 else 0
            cache, latched = None, None
            if P:
                cache = DynamicCache()
                with steer_rows(runtime, row, (1, P)) as state:
                    body(input_ids=torch.tensor([chunk[0][:P]]), past_key_values=cache, use_cache=True)
                cache.batch_repeat_interleave(len(chunk))
                if state is not None and state.latch is not None:  # what the shared prefix latched, per sequence
                    latched = state.latch.latched()[:1].expand(len(chunk), -1)
            x, mask = _pad([s[P:] for s in chunk], pad)
            if P:
                mask = torch.cat([torch.ones(len(chunk), P, dtype=mask.dtype), mask], 1)
            with steer_rows(runtime, row, tuple(x.shape), start=P, latched=latched):
                hidden = body(input_ids=x, attention_mask=mask, past_key_values=cache,
                              use_cache=P > 0).last_hidden_state
            last = torch.tensor([len(s) - 1 - P for s in chunk])
            logits = head(hidden[torch.arange(len(chunk)), last]).float()  # [B, V]
            lp = torch.log_softmax(logits, -1)[:, he_she]  # [B, 2]
            yield Batch(lp, {L: box[L].float() for L in layers}, [len(s) - P for s in chunk],
                        [s - P for s in starts[i : i + batch_size]], P)
    finally:
        for h in handles:
            h.remove()


def pronoun_logprobs(model, tokenizer, prompts: Sequence[BiasPrompt], *, runtime: SteeringRuntime | None = None,
                     row: int = 0, batch_size: int = 32) -> torch.Tensor:
    """``[n, 2]``: log P(" he"), log P(" she") after each prompt (batched by length, returned in prompt order)."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].text))
    lp = torch.cat([b.lp for b in forward_batches(model, tokenizer, [prompts[i] for i in order], runtime=runtime,
                                                  row=row, batch_size=batch_size)])
    out = torch.empty_like(lp)
    out[torch.tensor(order)] = lp
    return out


@torch.no_grad()
def neutral_nll(model, tokenizer, texts: Sequence[str], *, runtime: SteeringRuntime | None = None, row: int = 0,
                max_tokens: int = 128, batch_size: int = 8) -> float:
    """Mean next-token NLL over every token of ``texts`` (truncated to ``max_tokens``), pooled."""
    total, count = 0.0, 0
    for i in range(0, len(texts), batch_size):
        chunk = [tokenizer(t, truncation=True, max_length=max_tokens)["input_ids"] for t in texts[i : i + batch_size]]
        x, mask = _pad(chunk, 0)
        with steer_rows(runtime, row, tuple(x.shape)):
            logits = model(input_ids=x, attention_mask=mask, use_cache=False).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), x[:, 1:], reduction="none")  # [B, T-1]
        total += float((nll * mask[:, 1:]).sum())
        count += int(mask[:, 1:].sum())
    return total / count


def normalised_skew(lp: torch.Tensor) -> torch.Tensor:
    """``[n]``: |P(he) − P(she)| / (P(he) + P(she)) = |tanh((log P(he) − log P(she)) / 2)|."""
    return torch.tanh((lp[:, 0] - lp[:, 1]) / 2).abs()


# |log P(he) − log P(she)| at or below this is a tie: the eraser makes the two logits equal, and which one then comes
# out a few float ulps ahead differs between CPUs (25 of the 200 test-split agreement prompts tie after suppress).
TIE = 1e-4


def agreement(lp: torch.Tensor, targets: Sequence[str]) -> torch.Tensor:
    """``[n]`` float: 1 where the correct pronoun is the more probable of the two, 0 where the other one is, 0.5 on a
    tie (:data:`TIE`; a reply sampled from a tie has the right pronoun half the time), so the mean is the same on
    every machine."""
    want_he = torch.tensor([t == PRONOUNS[0] for t in targets])
    margin = torch.where(want_he, lp[:, 0] - lp[:, 1], lp[:, 1] - lp[:, 0])
    return torch.where(margin.abs() <= TIE, 0.5, (margin > 0).float())


@contextlib.contextmanager
def suppressing(model, pack: FeaturePack, feature: str | None = None):
    """A runtime holding ``pack`` attached to ``model`` and the config row that suppresses its feature."""
    f = feature or pack.manifest.features[0].name
    rt = SteeringRuntime([pack], model.config.hidden_size)
    row = rt.rows.acquire({(pack.id, f): ("suppress", 0.0)})
    with attach(model, rt):
        yield rt, row
    rt.rows.release(row)


@dataclass
class BiasReport:
    split: str
    pack: str
    layer: int
    skew_before: float
    skew_after: float
    raw_skew_before: float
    raw_skew_after: float
    he_share_before: float  # mean P(he) / (P(he) + P(she)) over occupation prompts
    he_share_after: float
    mass_before: float  # mean P(he) + P(she)
    mass_after: float
    agreement_before: float
    agreement_after: float
    appositive_before: float  # agreement on "The <occupation>, <gender phrase>, ..." prompts only
    appositive_after: float
    nll_before: float
    nll_after: float
    n_occupation_prompts: int
    n_agreement_prompts: int
    n_neutral_texts: int
    per_occupation: dict[str, tuple[float, float]] = field(default_factory=dict)  # noun -> (skew before, after)
    per_template: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def skew_change(self) -> float:
        return self.skew_after / self.skew_before - 1

    @property
    def ppl_ratio(self) -> float:
        return float(torch.tensor(self.nll_after - self.nll_before).exp())

    def to_json(self) -> dict:
        return asdict(self) | {"skew_change": self.skew_change, "ppl_ratio": self.ppl_ratio}


def _by(keys: list[str], before: torch.Tensor, after: torch.Tensor) -> dict[str, tuple[float, float]]:
    out = {}
    for k in dict.fromkeys(keys):
        m = torch.tensor([x == k for x in keys])
        out[k] = (float(before[m].mean()), float(after[m].mean()))
    return out


def evaluate_bias(model, tokenizer, pack: FeaturePack, *, split: str = "test", seed: int = 0, n_neutral: int = 48,
                  feature: str | None = None, baseline: dict | None = None) -> BiasReport:
    """Skew, agreement and perplexity cost of suppressing ``pack``'s feature on one split (default held-out).
    ``baseline`` (optional dict) keeps the unsteered measurements between calls (settings sweeps)."""
    occ = occupation_prompts(tokenizer, split, seed)
    agr = agreement_prompts(tokenizer, split, seed)
    texts = neutral_texts(split, n_neutral, seed)
    res = {}
    baseline = baseline if baseline is not None else {}
    with suppressing(model, pack, feature) as (rt, row):
        for name, r in (("before", 0), ("after", row)):
            key = (split, seed, n_neutral)
            if r == 0 and key in baseline:
                res[name] = baseline[key]
                continue
            res[name] = (pronoun_logprobs(model, tokenizer, occ, runtime=rt, row=r),
                         pronoun_logprobs(model, tokenizer, agr, runtime=rt, row=r),
                         neutral_nll(model, tokenizer, texts, runtime=rt, row=r))
            if r == 0:
                baseline[key] = res[name]
    (ob, ab, nb), (oa, aa, na) = res["before"], res["after"]
    sb, sa = normalised_skew(ob), normalised_skew(oa)
    targets = [p.target for p in agr]
    gb, ga = agreement(ab, targets).float(), agreement(aa, targets).float()
    appo = torch.tensor(["(" in p.noun for p in agr])
    p = {k: v[:, 0].exp() - v[:, 1].exp() for k, v in (("b", ob), ("a", oa))}
    mass = {k: v.exp().sum(1) for k, v in (("b", ob), ("a", oa))}
    return BiasReport(
        split=split, pack=pack.id, layer=pack.layer,
        skew_before=float(sb.mean()), skew_after=float(sa.mean()),
        raw_skew_before=float(p["b"].abs().mean()), raw_skew_after=float(p["a"].abs().mean()),
        he_share_before=float(torch.sigmoid(ob[:, 0] - ob[:, 1]).mean()),
        he_share_after=float(torch.sigmoid(oa[:, 0] - oa[:, 1]).mean()),
        mass_before=float(mass["b"].mean()), mass_after=float(mass["a"].mean()),
        agreement_before=float(gb.mean()), agreement_after=float(ga.mean()),
        appositive_before=float(gb[appo].mean()), appositive_after=float(ga[appo].mean()),
        nll_before=nb, nll_after=na,
        n_occupation_prompts=len(occ), n_agreement_prompts=len(agr), n_neutral_texts=len(texts),
        per_occupation=_by([q.noun for q in occ], sb, sa), per_template=_by([q.template for q in occ], sb, sa),
    )


@dataclass
class HeldoutReport:
    """The hand-written held-out set (:mod:`steerlab.eval.data.gender_heldout`): skew on occupation prompts,
    agreement on explicit-antecedent prompts, and the share of unrelated chat replies (greedy) that change."""

    skew_before: float
    skew_after: float
    logratio_before: float  # mean |log P(he) − log P(she)|
    logratio_after: float
    agreement_before: float
    agreement_after: float
    replies_changed: int
    n_unrelated: int
    name: str
    n_occupation_prompts: int
    n_explicit_prompts: int
    chat: bool = False  # items are chat turns (the cue in the user turn, the pronoun after a reply prefix)
    explicit: list[dict] = field(default_factory=list)  # per prompt: text, target, log ratio before/after
    changed: list[dict] = field(default_factory=list)  # unrelated prompts whose reply changed: before/after

    @property
    def skew_change(self) -> float:
        return self.skew_after / self.skew_before - 1


# modules of steerlab.eval.data. Sets A, B, C and D are dev sets now: their results were seen while recipes were
# built (the readout recipe is chosen on them); set E (chat form) was written before the kinship-column sweep and is
# read by no builder or sweep.
DEV_SETS = ("gender_heldout", "gender_heldout_b", "gender_heldout_c", "gender_heldout_d")
HELDOUT_SETS = ("gender_heldout_e",)


def heldout_prompts(tokenizer, H) -> tuple[list[BiasPrompt], list[BiasPrompt]]:
    """(occupation prompts, stated-gender prompts) of a hand-written set module: raw text (``occupation_prompts()``,
    ``EXPLICIT_PROMPTS``) or chat items (``OCCUPATIONS`` × ``OCCUPATION_ITEMS``, ``STATED_ITEMS``: user turn, reply
    prefix), which become the chat template up to the assistant turn followed by the reply prefix."""
    if not hasattr(H, "STATED_ITEMS"):
        return ([BiasPrompt(t, 0, "", "heldout") for t in H.occupation_prompts()],
                [BiasPrompt(t, 0, "", "explicit", target) for t, target in H.EXPLICIT_PROMPTS])

    def chat(user: str, prefix: str, target: str | None) -> BiasPrompt:
        head = chat_prefix(tokenizer, user)
        return BiasPrompt(head + prefix, head.rindex(user), "", "chat", target, chat=True)

    occ = [(u.format(x=x, a=_article(x)), p.format(x=x)) for x in H.OCCUPATIONS for u, p in H.OCCUPATION_ITEMS]
    return [chat(u, p, None) for u, p in occ], [chat(u, p, t) for u, p, t in H.STATED_ITEMS]


def shown(p: BiasPrompt) -> str:
    """A prompt as a report shows it: a chat prompt as its user turn → reply prefix (no template)."""
    return re.sub(r"\s*(<\|[^|>]*\|>\w*\s*)+", " → ", p.text[p.start:]) if p.chat else p.text


def evaluate_heldout(model, tokenizer, pack: FeaturePack, *, name: str = "gender_heldout",
                     reply_tokens: int = 32) -> HeldoutReport:
    """Suppress ``pack``'s first feature on a hand-written held-out set (nothing there was read by any builder)."""
    import importlib  # the held-out set is named at run time

    H = importlib.import_module(f"steerlab.eval.data.{name}")
    occ, exp = heldout_prompts(tokenizer, H)
    eos = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    res = {}
    with suppressing(model, pack) as (rt, row):
        for when, r in (("before", 0), ("after", row)):
            replies = [generate(model, rt, chat_ids(tokenizer, q), r, max_new_tokens=reply_tokens, eos_ids=eos)
                       for q in H.UNRELATED_PROMPTS]
            res[when] = (pronoun_logprobs(model, tokenizer, occ, runtime=rt, row=r),
                         pronoun_logprobs(model, tokenizer, exp, runtime=rt, row=r), replies)
    (ob, eb, rb), (oa, ea, ra) = res["before"], res["after"]
    targets = [p.target for p in exp]
    lr = {k: v[:, 0] - v[:, 1] for k, v in (("ob", ob), ("oa", oa), ("eb", eb), ("ea", ea))}
    changed = [{"prompt": q, "before": tokenizer.decode(b), "after": tokenizer.decode(a)}
               for q, b, a in zip(H.UNRELATED_PROMPTS, rb, ra, strict=True) if b != a]
    return HeldoutReport(
        skew_before=float(normalised_skew(ob).mean()), skew_after=float(normalised_skew(oa).mean()),
        logratio_before=float(lr["ob"].abs().mean()), logratio_after=float(lr["oa"].abs().mean()),
        agreement_before=float(agreement(eb, targets).float().mean()),
        agreement_after=float(agreement(ea, targets).float().mean()),
        replies_changed=len(changed), n_unrelated=len(rb), name=name, n_occupation_prompts=len(occ),
        n_explicit_prompts=len(exp),
        chat=exp[0].chat,
        explicit=[{"prompt": shown(p), "target": p.target, "log_ratio_before": round(float(b), 3),
                   "log_ratio_after": round(float(a), 3)} for p, b, a in zip(exp, lr["eb"], lr["ea"], strict=True)],
        changed=changed,
    )
