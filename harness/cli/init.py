"""``harness init [DIR]``: scaffold a project that runs the harness on a team's own system.

    pip install runbook-harness && harness init && pytest scenarios/ --env sit

Writes (never over an existing file without ``--force``): ``scenarios/`` (the package's own, the files this
project runs), ``conftest.py`` (keeps pytest out of ``reports/``), ``pytest.ini`` (``--inventory
inventory.toml``), ``inventory.toml`` (a bundled inventory as the template, or a draft written by ``harness
inventory discover``), ``.github/workflows/rollback.yml`` and ``gameday.yml``, and ``.gitignore`` for reports.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import TextIO

from harness import options
from harness.errors import HarnessError
from harness.inventory import load_inventory
from harness.inventory.loader import inventory_path

INVENTORY_FILE = "inventory.toml"
CONFTEST = '''"""Project conftest: the harness's pytest plugin is registered by the runbook-harness package itself."""

collect_ignore = ["reports"]
'''
PYTEST_INI = f"""[pytest]
# The inventory this project describes (harness inventory discover writes one; harness init copied a template).
addopts = --inventory {INVENTORY_FILE}
testpaths = scenarios
"""
GITIGNORE = """# harness reports (runs, incident reports, checklists, Allure results)
reports/
allure-results/
allure-report/
__pycache__/
.pytest_cache/
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``harness init``."""
    p = sub.add_parser(
        "init",
        help="scaffold a project: scenarios, conftest, inventory, workflows, .gitignore",
        description="Scaffold a project so that `pytest scenarios/ --env sit` runs the harness's scenarios on "
        "your inventory. Existing files are kept unless --force.",
    )
    p.add_argument("dir", nargs="?", default=".", help="the project folder (default: here; created if missing)")
    # The shared option (a draft from `harness inventory discover` is a path; a bundled name is a template).
    options.add(p.add_argument, "--inventory")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(func=run)


def _scaffold() -> Path:
    return Path(str(resources.files("harness.scaffold")))


def _files(src: Path, pattern: str) -> list[Path]:
    return sorted(p for p in src.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)


def plan(inventory: str) -> dict[str, Path | str]:
    """Relative path in the project -> source file (Path) or text (str)."""
    scaffold = _scaffold()
    out: dict[str, Path | str] = {}
    scenarios = scaffold / "scenarios"
    for f in _files(scenarios, "**/*.py"):
        out[f"scenarios/{f.relative_to(scenarios).as_posix()}"] = f
    for f in _files(scaffold / "workflows", "*.yml"):
        out[f".github/workflows/{f.name}"] = f
    out["conftest.py"] = CONFTEST
    out["pytest.ini"] = PYTEST_INI
    out[".gitignore"] = GITIGNORE
    out[INVENTORY_FILE] = inventory_path(inventory)
    return out


def scaffold(folder: Path, inventory: str = "bbws", *, force: bool = False) -> tuple[list[str], list[str]]:
    """Write the project into ``folder``; (written, kept) relative paths."""
    load_inventory(inventory)  # a draft that does not validate is refused before anything is written
    files = plan(inventory)
    if not any(p.startswith("scenarios/") for p in files):
        raise HarnessError("the installed package ships no scenarios (harness/scaffold/scenarios): reinstall it")
    written, kept = [], []
    for rel, source in files.items():
        dest = folder / rel
        if dest.exists() and not force:
            kept.append(rel)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copyfile(source, dest)
        else:
            dest.write_text(source, encoding="utf-8")
        written.append(rel)
    return written, kept


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Scaffold, print what was written and kept, and the next command."""
    out = out or sys.stdout
    folder = Path(args.dir)
    written, kept = scaffold(folder, args.inventory, force=args.force)
    scenarios = sum(1 for w in written if w.startswith("scenarios/"))
    others = [w for w in written if not w.startswith("scenarios/")]
    print(f"{folder}: wrote {scenarios} scenario file(s) and {', '.join(others) or 'nothing else'}", file=out)
    if kept:
        print(f"kept {len(kept)} existing file(s) (--force to overwrite): {', '.join(kept[:8])}", file=out)
    names = load_inventory(folder / INVENTORY_FILE).env_names
    env = "sit" if "sit" in names else names[0]
    where = "" if str(folder) == "." else f"cd {folder} && "
    print(f"next: {where}pytest scenarios/ --env {env}", file=out)
    return 0
