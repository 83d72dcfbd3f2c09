"""Dev experiment: new generator, per-layer fit, dev = generated dev + set A (never set C)."""
import random, sys, time, torch, json
from pathlib import Path
from transformers import AutoModelForCausalLM, AutoTokenizer
from steering.model import prepare_embedded_model
from steerlab.build.code_pairs import generate, handwritten_rows
from steerlab.build.code_lines import stdlib_files
from steerlab.build.unsafe_code_pairs import (programs, residuals, fit_layer, program_scores, pair_accuracy,
                                              model_text, Program)
from steerlab.eval.data import unsafe_code_heldout as A
from steerlab.metrics import auroc

torch.set_num_threads(2)
LAYERS = (9, 12, 15, 18, 21)
n_train = int(sys.argv[1]) if len(sys.argv) > 1 else 60
path = prepare_embedded_model()
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
cache = Path(f"/tmp/uc/acts_{n_train}.pt")
train_s, dev_s = generate(n_train, 0), generate(16, 1000)
ordinary = ["\n".join(f.lines) for f in stdlib_files(200, 0, max_lines=40)]
random.Random(0).shuffle(ordinary)
train = programs(tok, train_s, ordinary[:150])
dev = programs(tok, dev_s, ordinary[150:])
arows = handwritten_rows(A)
aprogs = [Program(model_text(tok, r["source"], r["model_context"])[0], r["label"], None, r["pair"] * 10 + ("raw","chat","truncated","prose").index(r["context"]), r["cls"], r["context"]) for r in arows]
if cache.exists():
    acts_tr, acts_dev, acts_a = torch.load(cache)
else:
    t = time.time()
    acts_tr = residuals(model, tok, [p.text for p in train], LAYERS, "train")
    acts_dev = residuals(model, tok, [p.text for p in dev], LAYERS, "dev")
    acts_a = residuals(model, tok, [p.text for p in aprogs], LAYERS, "setA")
    torch.save((acts_tr, acts_dev, acts_a), cache)
    print("acts", time.time() - t, flush=True)
print(f"train programs {len(train)} dev {len(dev)} setA {len(aprogs)}", flush=True)
ya = [p.label for p in aprogs]
ydev = [p.label for p in dev]
res = {}
for layer in LAYERS:
    for l2 in (1e-3, 1e-2):
        w, b = fit_layer(train, acts_tr, layer, l2=l2)
        sd = program_scores(acts_dev, layer, w, b)
        sa = program_scores(acts_a, layer, w, b)
        per_ctx = {}
        for ctx in ("raw", "chat", "truncated", "prose"):
            idx = [i for i, p in enumerate(aprogs) if p.context == ctx]
            per_ctx[ctx] = round(auroc([sa[i] for i in idx], [ya[i] for i in idx]), 3)
        r = dict(dev_auroc=round(auroc(sd, ydev), 3), dev_pair=round(pair_accuracy(dev, sd), 3),
                 a_auroc=round(auroc(sa, ya), 3), a_pair=round(pair_accuracy([p for p in aprogs], sa), 3), **per_ctx)
        print(layer, l2, r, flush=True)
        res[f"{layer}-{l2}"] = r
        torch.save((w, b), f"/tmp/uc/w_{n_train}_{layer}_{l2}.pt")
json.dump(res, open(f"/tmp/uc/res_{n_train}.json", "w"), indent=1)
