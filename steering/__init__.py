"""steerserve's steering runtime: feature packs, the fused per-request op, hooks and monitors.

Pure torch + safetensors; nothing here imports a web framework or the server.
"""

__version__ = "0.1.0"
