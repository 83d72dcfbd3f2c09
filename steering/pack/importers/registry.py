"""Format name → importer. Each importer is ``load(src: Path, *, layer: int, **options) -> Folded``; one whose
``layer`` may be None (a file holding every layer, e.g. a GGUF control vector) returns ``{layer: Folded}`` for it,
which becomes a multi-site pack. Format modules register themselves with ``@register("name")`` when
:mod:`steering.pack.importers` is imported."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

from steering.pack.importers.build import build_pack
from steering.pack.importers.common import Folded, fail
from steering.pack.io import FeaturePack
from steering.pack.manifest import ModelInfo

Loader = Callable[..., Folded]
_IMPORTERS: dict[str, Loader] = {}
_FIXED = {"folded", "dst", "fmt", "features", "pack_id", "model", "layer", "labels"}  # import_sae's own arguments


def register(name: str) -> Callable[[Loader], Loader]:
    def deco(fn: Loader) -> Loader:
        if name in _IMPORTERS:
            raise ValueError(f"importer '{name}' is already registered")
        _IMPORTERS[name] = fn
        return fn

    return deco


def formats() -> list[str]:
    return sorted(_IMPORTERS)


def import_sae(
    fmt: str,
    src: str | Path,
    dst: str | Path,
    *,
    features: Sequence[int] | None,
    pack_id: str,
    model: ModelInfo | dict,
    layer: int | None,
    labels: Sequence[str] | None = None,
    **options,
) -> FeaturePack:
    """Import latents ``features`` of the SAE at ``src`` (format ``fmt``) as a pack at ``dst``.

    ``options`` are either format options (e.g. ``scaling_factor`` for saelens; None values are ignored) or
    manifest options of :func:`~steering.pack.importers.build.build_pack` (names, max_activation, title, ...).
    """
    load = _IMPORTERS.get(fmt)
    if load is None:
        raise fail(f"unknown import format '{fmt}' (known: {', '.join(formats())})")
    src = Path(src)
    if not src.exists():
        raise fail(f"import source '{src.name}' not found")
    fmt_params = set(inspect.signature(load).parameters) - {"src", "layer"}
    pack_params = set(inspect.signature(build_pack).parameters) - _FIXED
    unknown = sorted(k for k, v in options.items() if v is not None and k not in fmt_params | pack_params)
    if unknown:
        raise fail(f"option {unknown[0]!r} does not apply to format '{fmt}'")
    fmt_opts = {k: v for k, v in options.items() if k in fmt_params and v is not None}
    pack_opts = {k: v for k, v in options.items() if k in pack_params and v is not None}
    if layer is None and inspect.signature(load).parameters["layer"].default is inspect.Parameter.empty:
        raise fail(f"format '{fmt}' needs a layer (--layer): its files do not say which site they belong to")
    folded = load(src, layer=layer, **fmt_opts)
    return build_pack(
        folded, dst, fmt=fmt, features=features, pack_id=pack_id, model=model, layer=layer, labels=labels, **pack_opts
    )
