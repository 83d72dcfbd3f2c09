"""Load, verify and save feature packs (formats v1 and v2).

A pack is a directory: ``pack.json`` (manifest), ``pack.safetensors`` (tensors), ``README.md`` (card). v1 holds
``W_dec``/``W_enc``/``b_enc``/``threshold`` for its one site; v2 holds them per site as ``W_dec.<i>`` etc.
Every check of the hostile-file catalogue happens in :func:`load_pack`, before a single tensor reaches the
runtime; each refusal is a :class:`~steering.errors.PackError` whose ``reason`` names the check.

>>> pack = load_pack("feature_packs/smollm2-135m-instruct/golden-gate")   # doctest: +SKIP
>>> pack.manifest.features[0].name
'bridge'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import ValidationError
from safetensors.torch import load_file, save_file

from steering.errors import PackError, PackModelMismatch, SteeringError
from steering.pack.manifest import FORMAT_VERSIONS, Manifest, ModelInfo

MANIFEST_FILE = "pack.json"
TENSOR_FILE = "pack.safetensors"
CARD_FILE = "README.md"
# A card is written by the command that builds the pack; text after this line is written by hand (what else was
# tried, what limits the pack) and is kept when the pack is rebuilt.
NOTES_MARKER = "<!-- notes below: written by hand, kept when the pack is rebuilt -->"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib", ".npy")
TENSOR_NAMES = ("W_dec", "W_enc", "b_enc", "threshold")
TENSOR_NAME_RE = re.compile(r"^(W_dec|W_enc|b_enc|threshold)(\.(0|[1-9][0-9]{0,2}))?$")  # v2: "<name>.<site>"
FLOAT_DTYPES = ("F16", "BF16", "F32")
MAX_MANIFEST_BYTES = 4 << 20
MAX_HEADER_BYTES = 1 << 20
DEFAULT_MAX_PACK_BYTES = 2 << 30


@dataclass(frozen=True)
class SiteTensors:
    """One site's fp32 tensors: ``W_dec [F, d]``, optional ``W_enc [d, F]``, ``b_enc [F]``, ``threshold [F]``.
    ``F`` counts tensor rows; manifest features address rows by ``index`` (the same rows at every site)."""

    layer: int
    W_dec: torch.Tensor
    W_enc: torch.Tensor | None = None
    b_enc: torch.Tensor | None = None
    threshold: torch.Tensor | None = None


@dataclass(frozen=True)
class FeaturePack:
    """A verified pack: its manifest and one :class:`SiteTensors` per site (v1: one). ``layer``, ``W_dec``, ...
    are those of ``sites[0]``, the read site where monitors read a feature's activation."""

    manifest: Manifest
    sites: tuple[SiteTensors, ...]
    path: Path | None = None

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def layers(self) -> list[int]:
        return [s.layer for s in self.sites]

    @property
    def layer(self) -> int:
        return self.sites[0].layer

    @property
    def W_dec(self) -> torch.Tensor:
        return self.sites[0].W_dec

    @property
    def W_enc(self) -> torch.Tensor | None:
        return self.sites[0].W_enc

    @property
    def b_enc(self) -> torch.Tensor | None:
        return self.sites[0].b_enc

    @property
    def threshold(self) -> torch.Tensor | None:
        return self.sites[0].threshold


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(root.resolve(strict=True))
        return True
    except (ValueError, OSError):
        return False


def _check_safetensors_header(path: Path, size: int) -> dict:
    """Validate the safetensors framing ourselves so a hostile file fails with a reason, not a crash."""
    if size < 8:
        raise PackError("tensor file is truncated (shorter than its 8-byte header length)", reason="truncated")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER_BYTES:
            raise PackError(f"safetensors header declares {n} bytes (limit {MAX_HEADER_BYTES})", reason="oversized_header")
        if 8 + n > size:
            raise PackError("tensor file is truncated (header runs past the end of the file)", reason="truncated")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise PackError("safetensors header is not valid JSON", reason="corrupt_header") from None
    if not isinstance(header, dict):
        raise PackError("safetensors header is not a JSON object", reason="corrupt_header")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not TENSOR_NAME_RE.match(name):
            raise PackError(f"unexpected tensor '{name[:40]}' (allowed: {', '.join(TENSOR_NAMES)}, or in format v2 "
                            "'<name>.<site>')", reason="tensor_name")
        if not isinstance(info, dict) or info.get("dtype") not in FLOAT_DTYPES:
            raise PackError(f"tensor '{name}' must be float16, bfloat16 or float32", reason="dtype")
        offsets = info.get("data_offsets")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise PackError(f"tensor '{name}' has malformed data offsets", reason="corrupt_header")
        end = max(end, offsets[1])
    if 8 + n + end > size:
        raise PackError("tensor file is truncated (tensor data runs past the end of the file)", reason="truncated")
    return header


def _read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        raise PackError(f"pack has no {MANIFEST_FILE}", reason="missing_file")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise PackError(f"{MANIFEST_FILE} is larger than {MAX_MANIFEST_BYTES} bytes", reason="size_cap")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PackError(f"{MANIFEST_FILE} is not valid JSON ({e.__class__.__name__})", reason="manifest") from None
    if isinstance(raw, dict) and raw.get("format_version") not in (None, *FORMAT_VERSIONS):
        raise PackError(f"unsupported format_version {raw.get('format_version')!r}", reason="format_version")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        reason = "extra_key" if first["type"] == "extra_forbidden" else "manifest"
        raise PackError(f"{MANIFEST_FILE}: {where}: {first['msg']}", reason=reason) from None


def check_model(manifest: Manifest, model: ModelInfo) -> None:
    """Refuse a pack built for another model (name, width or depth differ)."""
    m = manifest.model
    if (m.d_model, m.num_layers) != (model.d_model, model.num_layers) or m.name != model.name:
        raise PackModelMismatch(
            f"pack '{manifest.id}' was built for {m.name} (d_model {m.d_model}, {m.num_layers} layers), "
            f"not {model.name} (d_model {model.d_model}, {model.num_layers} layers)"
        )


def load_pack(
    path: str | Path,
    *,
    root: str | Path | None = None,
    model: ModelInfo | None = None,
    max_bytes: int = DEFAULT_MAX_PACK_BYTES,
) -> FeaturePack:
    """Load and verify one pack directory. ``root``: refuse anything that resolves outside it (symlinks)."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    if not path.is_dir():
        raise PackError("pack is not a directory", reason="missing_file")
    for entry in path.iterdir():
        if entry.suffix.lower() in PICKLE_SUFFIXES:
            raise PackError(f"'{entry.name}': pickle-based files are refused; packs are safetensors only", reason="pickle")
        if not _inside(entry, root):
            raise PackError(f"'{entry.name}' resolves outside the packs root", reason="outside_root")
    if not _inside(path, root):
        raise PackError("pack directory resolves outside the packs root", reason="outside_root")

    manifest = _read_manifest(path / MANIFEST_FILE)
    if model is not None:
        check_model(manifest, model)
    tensor_path = path / TENSOR_FILE
    if not tensor_path.is_file():
        raise PackError(f"pack has no {TENSOR_FILE}", reason="missing_file")
    size = tensor_path.stat().st_size
    if size > max_bytes:
        raise PackError(f"{TENSOR_FILE} is {size} bytes, over the {max_bytes}-byte cap", reason="size_cap")
    _check_safetensors_header(tensor_path, size)
    if sha256_file(tensor_path) != manifest.sha256:
        raise PackError(f"{TENSOR_FILE} does not match the sha256 in {MANIFEST_FILE}", reason="sha256")
    try:
        tensors = load_file(tensor_path)
    except Exception as e:  # safetensors raises its own error types for framing problems we did not catch above
        raise PackError(f"{TENSOR_FILE} could not be read ({e.__class__.__name__})", reason="corrupt_header") from None
    return _verify_tensors(manifest, tensors, path)


def _site_tensors(manifest: Manifest, tensors: dict[str, torch.Tensor], key: str, layer: int) -> SiteTensors:
    """Check and convert one site's tensors; ``key(name)`` is the tensor's name in the file for this site."""
    d = manifest.model.d_model
    if key("W_dec") not in tensors:
        raise PackError(f"{key('W_dec')} is required", reason="shape")
    W_dec = tensors[key("W_dec")].float()
    if W_dec.ndim != 2 or W_dec.shape[1] != d:
        raise PackError(f"{key('W_dec')} has shape {list(W_dec.shape)}, expected [F, {d}]", reason="shape")
    F = W_dec.shape[0]
    expected = {"W_enc": (d, F), "b_enc": (F,), "threshold": (F,)}
    out: dict[str, torch.Tensor] = {"W_dec": W_dec}
    for name, shape in expected.items():
        if key(name) in tensors:
            t = tensors[key(name)].float()
            if tuple(t.shape) != shape:
                raise PackError(f"{key(name)} has shape {list(t.shape)}, expected {list(shape)}", reason="shape")
            out[name] = t
    for name, t in out.items():
        if not torch.isfinite(t).all():
            raise PackError(f"{key(name)} contains NaN or Inf", reason="non_finite")
    kind = manifest.encoder.kind
    if kind.startswith("sae-") and "W_enc" not in out:
        raise PackError(f"encoder kind {kind} needs {key('W_enc')}", reason="shape")
    if kind == "sae-jumprelu" and "threshold" not in out:
        raise PackError(f"encoder kind sae-jumprelu needs {key('threshold')}", reason="shape")
    for f in manifest.features:
        if f.index >= F:
            raise PackError(f"feature '{f.name}' has index {f.index}, but {key('W_dec')} has {F} rows", reason="shape")
    return SiteTensors(layer=layer, **out)


def _verify_tensors(manifest: Manifest, tensors: dict[str, torch.Tensor], path: Path | None) -> FeaturePack:
    sites = manifest.all_sites
    if manifest.format_version == 1:
        names = {"W_dec", "W_enc", "b_enc", "threshold"}
        keys = [lambda n: n]
    else:
        names = {f"{n}.{i}" for n in TENSOR_NAMES for i in range(len(sites))}
        keys = [lambda n, i=i: f"{n}.{i}" for i in range(len(sites))]
    stray = sorted(set(tensors) - names)
    if stray:
        raise PackError(f"tensor '{stray[0][:40]}' does not belong to format v{manifest.format_version} with "
                        f"{len(sites)} site(s)", reason="tensor_name")
    out = tuple(_site_tensors(manifest, tensors, key, s.layer) for key, s in zip(keys, sites, strict=True))
    if len({s.W_dec.shape[0] for s in out}) > 1:
        raise PackError("every site must hold the same number of rows", reason="shape")
    read = manifest.read_layers()
    if manifest.condition is not None:  # the gate is written at the condition's layer: no gated edit before it
        gated = [f.index for f in manifest.features if f.name not in read]
        if any(s.layer < read[manifest.condition.feature] and (s.W_dec[gated] != 0).any() for s in out):
            raise PackError("a conditional pack edits only at or above its condition's layer", reason="manifest")
    return FeaturePack(manifest=manifest, sites=out, path=path)


def with_notes(card: str, old_card: Path) -> str:
    """``card`` followed by the hand-written notes of ``old_card`` (the text after :data:`NOTES_MARKER`), if any."""
    old = old_card.read_text() if old_card.is_file() else ""
    if NOTES_MARKER not in old or NOTES_MARKER in card:
        return card
    return card.rstrip("\n") + "\n\n" + NOTES_MARKER + old.split(NOTES_MARKER, 1)[1]


def write_pack_card(pack_dir: str | Path, card: str) -> None:
    """Write a pack's card (README.md), keeping the hand-written notes of the card it replaces."""
    path = Path(pack_dir) / CARD_FILE
    path.write_text(with_notes(card, path))


def save_pack(
    path: str | Path,
    manifest: dict,
    tensors: dict[str, torch.Tensor],
    *,
    card: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> FeaturePack:
    """Write a pack atomically (temp dir, then rename); fills in ``sha256``; returns the verified pack.

    ``manifest`` is the pack.json content without ``sha256``; with ``sites`` (and tensors ``W_dec.<i>``, ...) it is
    written as format v2, with ``site`` as v1. Existing files at ``path`` are replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-pack-", dir=path.parent))
    try:
        clean = {k: v.detach().to("cpu", dtype).clone() for k, v in tensors.items()}  # clone: sites may share a tensor
        save_file(clean, tmp / TENSOR_FILE)
        version = 2 if "sites" in manifest else 1
        data = {"format": "steering-pack", "format_version": version, **manifest,
                "sha256": sha256_file(tmp / TENSOR_FILE)}
        Manifest.model_validate(data)  # refuse to write a pack we would refuse to load
        (tmp / MANIFEST_FILE).write_text(json.dumps(data, indent=2) + "\n")
        if card is not None:
            (tmp / CARD_FILE).write_text(with_notes(card, path / CARD_FILE))
        elif (path / CARD_FILE).exists():
            shutil.copy(path / CARD_FILE, tmp / CARD_FILE)
        if path.exists():
            old = path.with_name(f".old-{path.name}-{os.getpid()}")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return load_pack(path)


def discover_packs(root: str | Path) -> list[Path]:
    """Pack directories under ``root`` (any depth ≤ 2: ``root/<pack>`` or ``root/<model>/<pack>``)."""
    root = Path(root)
    found = []
    for manifest in sorted(list(root.glob(f"*/{MANIFEST_FILE}")) + list(root.glob(f"*/*/{MANIFEST_FILE}"))):
        found.append(manifest.parent)
    return found


def load_packs(paths: str | Path | list[str | Path], model: ModelInfo, *, strict: bool = True) -> list[FeaturePack]:
    """Every pack under ``paths`` (each a pack directory, or a root holding packs as :func:`discover_packs` finds
    them), verified for ``model``. A pack that fails verification stops loading (``strict``: a server that silently
    lost a pack would serve those requests unsteered) or is skipped with a logged error; a missing directory is
    logged and skipped; two packs with one id are an error either way. The one loader of the API server, its admin
    reload and the vLLM plugin."""
    log = logging.getLogger("steerserve.packs")
    packs: list[FeaturePack] = []
    for p in map(Path, [paths] if isinstance(paths, str | Path) else paths):
        single = (p / MANIFEST_FILE).is_file()
        if not single and not p.is_dir():
            log.warning("no feature pack directory at %s; serving without its packs", p.name)
            continue
        for d in [p] if single else discover_packs(p):
            try:
                packs.append(load_pack(d, root=p.parent if single else p, model=model))
            except SteeringError as e:
                if strict:
                    raise
                log.error("skipping pack '%s': %s", d.name, e.message)
    ids = [p.id for p in packs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate pack ids under the packs root: {sorted(dup)}")
    return packs
