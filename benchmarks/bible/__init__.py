"""The English-Chinese Bible corpus of the domain-adaptation benchmark (build_bible.py)."""
