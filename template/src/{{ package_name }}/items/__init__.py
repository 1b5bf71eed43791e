"""Items: the example domain. Delete this package to start from a clean slate (see README)."""
