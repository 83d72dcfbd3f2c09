"""vLLM-CPU environment defaults that work on small machines (docs/decisions.md). Callers apply them with
``setdefault`` or as a base under the operator's own environment, which always wins."""

from __future__ import annotations

import os


def cpu_defaults(kv_cache_gib: int = 2) -> dict[str, str]:
    """KV-cache space, OpenMP threads bound to every core, no core reserved for the frontend."""
    return {"VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib),
            "VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}",
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
