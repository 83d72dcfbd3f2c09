"""steerlab: the offline tooling around steerserve — corpus, SAE training and labelling, probe and pack builders
(``build/``), evaluations on dev and held-out sets (``eval/``), benchmarks (``bench/``), and the CLI commands that
run them (``cli/``, one module per command group, loaded by ``server/cli/main.py``). Layering: ``steering``
(core) ← ``server`` (serving) ← ``steerlab``; nothing in ``steering/`` or the serving path imports this package."""
