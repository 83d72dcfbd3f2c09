"""Importers: foreign SAE / steering-vector files → feature packs (format v1).

>>> import_sae("saelens", "sae-dir", "feature_packs/m/my-pack", features=[3, 7], pack_id="my-pack",
...            model=model_info, layer=5)                                     # doctest: +SKIP

Formats: ``saelens``, ``gemmascope``, ``sparsify``, ``gguf`` (control vectors). Importing this package
registers them all (each format module registers itself with ``@register``).
"""

from steering.pack.importers import gemmascope, gguf_cv, saelens, sparsify  # noqa: F401  (registration)
from steering.pack.importers.build import build_pack
from steering.pack.importers.common import Folded
from steering.pack.importers.direction import direction_pack_tensors
from steering.pack.importers.registry import formats, import_sae, register

__all__ = ["Folded", "build_pack", "direction_pack_tensors", "formats", "import_sae", "register"]
