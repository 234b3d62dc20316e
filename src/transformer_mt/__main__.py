"""``python -m transformer_mt`` (what ``torchrun -m transformer_mt train ...`` runs)."""

from transformer_mt.cli.main import main

if __name__ == "__main__":
    main()
