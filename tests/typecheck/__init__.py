"""Files mypy checks on their own (tests/test_typed_stages.py): never imported, never collected by pytest."""
