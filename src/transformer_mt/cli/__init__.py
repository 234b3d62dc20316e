"""Command-line interface: parses input and calls the library."""
