"""Fixture generators for ifconvert; run them through scripts/make_fixtures.py.

Each module exposes ``build(repo_root: pathlib.Path) -> None`` and owns its outputs under fixtures/.
"""
