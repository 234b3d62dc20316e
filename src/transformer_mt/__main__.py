"""``python -m transformer_mt`` runs the command line."""

from transformer_mt.cli.main import main

if __name__ == "__main__":
    main()
