"""The offline ``steer`` command groups, one module each: ``probe``, ``corpus``, ``sae``, ``features``, ``eval``,
``bench``. ``server/cli/main.py`` lists them and imports the one a command line names; its ``register(group)``
fills in the subcommands. Builders, evaluations and benchmarks are imported inside each command, so ``--help``
answers without loading torch."""
