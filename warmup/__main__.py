"""``python -m warmup`` runs the CLI."""

from warmup.cli import main

main()
