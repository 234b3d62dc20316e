"""End-to-end tests of the command line (a package so that its helpers can be imported)."""
