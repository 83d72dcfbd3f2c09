"""Dev experiment: CAST-style steered deflection gated by the off-scope probe (layer 15). Never reads the held-out set."""
import random, re, sys, json, time, torch
from steering.model import prepare_embedded_model
from steering.pack import load_pack
from steering.hooks import decoder_layers
from steerlab.build.scope_data import scope_splits
from steerlab.build.chat import chat_ids
from transformers import AutoModelForCausalLM, AutoTokenizer
torch.set_num_threads(2)
path = prepare_embedded_model()
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
pack = load_pack("feature_packs/smollm2-135m-instruct/topics")
pw, pb = pack.W_enc[:, 0].float(), float(pack.b_enc[0])
THR = pack.manifest.features[0].threshold
splits, _ = scope_splits(0)
rng = random.Random(0)
tr = splits["train"]; rng.shuffle(tr)
cal = splits["calib"]; rng.shuffle(cal)
tr_q = [q for q in tr if q.in_scope][:60] + [q for q in tr if not q.in_scope][:60]
dev_in = [q.text for q in cal if q.in_scope][:40]
dev_off = [q.text for q in cal if not q.in_scope][:40]
DEFLECT = "I'm sorry, but I can only help with health and medical questions."
RX = re.compile(r"only (help|answer|assist|provide)|health(-related| and medical| or medical|care)? (questions|topics)|"
                r"can(no|')t help with|not able to help|outside (of )?my", re.I)
mods = decoder_layers(model)
LAYERS = [int(x) for x in sys.argv[1].split(",")] if len(sys.argv) > 1 else [15]
eos = tok.eos_token_id

@torch.no_grad()
def greedy(ids, n=32):
    out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=eos, pad_token_id=eos)
    o = out[0, len(ids):].tolist()
    return o[: o.index(eos)] if eos in o else o

@torch.no_grad()
def resid(ids, layers):
    box = {}
    hs = [mods[l].register_forward_hook(lambda m, a, o, l=l: box.__setitem__(l, (o[0] if isinstance(o, tuple) else o)[0])) for l in layers]
    model(input_ids=torch.tensor([ids]))
    for h in hs: h.remove()
    return box

t0 = time.time()
vec = {l: torch.zeros(576) for l in (9, 12, 15, 18, 21)}
d_ids = tok(DEFLECT, add_special_tokens=False)["input_ids"]
for q in tr_q:
    p = chat_ids(tok, q.text)
    own = greedy(p, 16)
    a = resid(p + d_ids, vec.keys()); b = resid(p + own, vec.keys())
    for l in vec:
        vec[l] += a[l][len(p):].mean(0) - b[l][len(p):].mean(0)
for l in vec: vec[l] /= len(tr_q)
print("vectors", {l: round(float(v.norm()), 2) for l, v in vec.items()}, time.time() - t0, flush=True)
torch.save(vec, "/tmp/cast/vec.pt")

state = {"gate": None}
def run(q, alpha, thr, layers, n=32):
    p = chat_ids(tok, q)
    def read(m, a, o):
        h = o[0] if isinstance(o, tuple) else o
        state["gate"] = ((h[0] @ pw + pb) > thr).float()  # [T]
    def add(l):
        def f(m, a, o):
            h = o[0] if isinstance(o, tuple) else o
            g = state["gate"].clone()
            if h.shape[1] == g.shape[0] and h.shape[1] > 1: g[0] = 0  # the sink
            h = h + alpha * g[None, :, None] * (vec[l] / vec[l].norm())
            return (h,) + tuple(o[1:]) if isinstance(o, tuple) else h
        return f
    hs = [mods[15].register_forward_hook(read)] + [mods[l].register_forward_hook(add(l)) for l in layers]
    try:
        return greedy(p, n)
    finally:
        for h in hs: h.remove()

base_in = [greedy(chat_ids(tok, q)) for q in dev_in]
base_off = [greedy(chat_ids(tok, q)) for q in dev_off]
print("base deflect off", sum(bool(RX.search(tok.decode(o))) for o in base_off) / 40,
      "in", sum(bool(RX.search(tok.decode(o))) for o in base_in) / 40, flush=True)
res = []
for alpha in [float(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "4,8,12").split(",")]:
    for dthr in (0.0, 1.0):
        off = [run(q, alpha, THR + dthr, LAYERS) for q in dev_off]
        inn = [run(q, alpha, THR + dthr, LAYERS) for q in dev_in]
        r = dict(layers=LAYERS, alpha=alpha, thr=THR + dthr,
                 off_deflect=sum(bool(RX.search(tok.decode(o))) for o in off) / 40,
                 in_unchanged=sum(a == b for a, b in zip(inn, base_in)) / 40,
                 in_deflect=sum(bool(RX.search(tok.decode(o))) for o in inn) / 40,
                 ex_off=[tok.decode(o) for o in off[:3]], ex_in=[tok.decode(o) for o in inn[:2]])
        print(json.dumps(r), flush=True); res.append(r)
json.dump(res, open(f"/tmp/cast/res_{'-'.join(map(str, LAYERS))}.json", "w"), indent=1)
