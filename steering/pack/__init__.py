"""Feature packs: manifest schema, load/verify/save, importers from foreign SAE formats."""

from steering.pack.io import FeaturePack, discover_packs, load_pack, load_packs, save_pack, write_pack_card
from steering.pack.manifest import Feature, Manifest, ModelInfo

__all__ = ["Feature", "FeaturePack", "Manifest", "ModelInfo", "discover_packs", "load_pack", "load_packs", "save_pack",
           "write_pack_card"]
