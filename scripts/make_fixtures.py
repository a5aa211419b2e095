#!/usr/bin/env python3
"""Regenerate every committed fixture under fixtures/ (deterministic: fixed seeds, stable file writers).

Runs the generator modules of scripts/fixturegen/ in the contract order (docs: fixtures/README.md):
snapshot, torch_files, original_layout, malformed, quant_reference, reference. Missing modules are skipped.
Refuses to run unless the installed packages match scripts/requirements-fixtures.txt (use --force to
override; the committed fixtures then may change).

    /work/main/.venv/bin/python scripts/make_fixtures.py [--only snapshot,reference] [--force]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import pathlib
import sys
import time

ORDER = ["snapshot", "torch_files", "original_layout", "malformed", "quant_reference", "reference"]

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "scripts" / "requirements-fixtures.txt"


def pinned_versions() -> dict[str, str]:
    pins = {}
    for raw in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        pins[name.strip()] = version.strip()
    return pins


def version_mismatches() -> list[str]:
    problems = []
    for name, wanted in pinned_versions().items():
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name}: not installed, expected {wanted}")
            continue
        if found != wanted:
            problems.append(f"{name}: found {found}, expected {wanted}")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(ORDER))
    parser.add_argument("--force", action="store_true", help="run even if package versions differ from the pins")
    args = parser.parse_args(argv)

    problems = version_mismatches()
    if problems:
        print("make_fixtures: installed packages differ from scripts/requirements-fixtures.txt:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        if not args.force:
            print("install the pinned versions (pip install -r scripts/requirements-fixtures.txt) or pass --force",
                  file=sys.stderr)
            return 2
        print("--force: continuing; the generated fixtures may differ from the committed ones", file=sys.stderr)

    wanted = ORDER
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in ORDER]
        if unknown:
            print(f"make_fixtures: unknown module(s) {unknown}; expected some of {ORDER}", file=sys.stderr)
            return 2
        wanted = [name for name in ORDER if name in wanted]

    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    for name in wanted:
        if importlib.util.find_spec(f"fixturegen.{name}") is None:
            print(f"make_fixtures: fixturegen/{name}.py not present, skipped", file=sys.stderr)
            continue
        module = importlib.import_module(f"fixturegen.{name}")
        start = time.monotonic()
        print(f"make_fixtures: {name} ...", file=sys.stderr, flush=True)
        module.build(REPO_ROOT)
        print(f"make_fixtures: {name} done in {time.monotonic() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
