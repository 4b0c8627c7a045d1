"""Test fixtures live in tests/fixtures/, one module per real service."""

pytest_plugins = [
    "tests.fixtures.s3",
    "tests.fixtures.demo",
    "tests.fixtures.server",
    "tests.fixtures.worker",
    "tests.fixtures.database",
    "tests.fixtures.snapshots",
]
