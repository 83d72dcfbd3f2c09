"""Metrics and the one classifier shared by the builders and the evaluations (so neither imports the other for them):
class-balanced L2 logistic regression, AUROC (ties count half), precision/recall at a threshold."""

from __future__ import annotations

import torch


def fit_logistic(Xp: torch.Tensor, Xn: torch.Tensor, l2: float = 1e-3, wp: torch.Tensor | None = None,
                 wn: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """Class-balanced L2 logistic regression on standardised tokens (LBFGS); returns raw-space (w [d], b).
    ``wp``/``wn``: relative sample weights within each class (default equal); each class keeps half the total."""
    X = torch.cat([Xp, Xn])
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    y = torch.cat([torch.ones(len(Xp)), torch.zeros(len(Xn))])
    if wp is None and wn is None:
        wt = torch.where(y == 1, len(y) / (2 * len(Xp)), len(y) / (2 * len(Xn)))
    else:
        wp = torch.ones(len(Xp)) if wp is None else wp.float()
        wn = torch.ones(len(Xn)) if wn is None else wn.float()
        wt = torch.cat([wp / wp.sum(), wn / wn.sum()]) * len(y) / 2
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = (wt * torch.nn.functional.binary_cross_entropy_with_logits(Z @ w + b, y, reduction="none")).mean()
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_raw = w.detach() / sd
    return w_raw, float(b.detach() - (mu / sd) @ w.detach())


def auroc(scores: list[float], labels: list[int]) -> float:
    s, y = torch.tensor(scores), torch.tensor(labels)
    pos, neg = s[y == 1], s[y == 0]
    return float((pos[:, None] > neg[None, :]).float().mean() + 0.5 * (pos[:, None] == neg[None, :]).float().mean())


def pr_at(scores, labels, thr) -> tuple[float, float]:
    tp = sum(s > thr and y == 1 for s, y in zip(scores, labels, strict=True))
    fp = sum(s > thr and y == 0 for s, y in zip(scores, labels, strict=True))
    fn = sum(s <= thr and y == 1 for s, y in zip(scores, labels, strict=True))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)
