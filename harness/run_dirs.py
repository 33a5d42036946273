"""Per-run report directories, so that no run can wipe another's evidence.

Layout under ``--reports-dir`` (default ``reports/``)::

    runs/<UTC stamp>-<inventory>-<env>/   one per run: allure-results/, junit.xml, verification-*.md, run.json
    latest -> runs/<newest>               a symlink (a text file naming the directory where symlinks fail)
    allure-results/, junit.xml,           copies of the newest run that ran at least one test, so the paths
    verification-*.md                     users and CI look at stay valid; a refused run or one that collected
                                          nothing never replaces them
    .published.json                       what those copies are and which run they came from

``--keep-runs N`` keeps the newest N run directories (default 20; 0 keeps all). Plain functions: the
plugin (``harness/pytest_plugin/harness_plugin.py``) and the CLI (``harness/cli/common.py``) decide when to call them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.options import DEFAULT_KEEP_RUNS

RUNS = "runs"
LATEST = "latest"
MANIFEST = ".published.json"
RUN_FILE = "run.json"
DEFAULT_KEEP = DEFAULT_KEEP_RUNS
_RUN_NAME = re.compile(r"^\d{8}T\d{6}Z-")


def check_writable(root: Path) -> None:
    """Create ``root`` if needed and prove a file can be written there (raises OSError otherwise)."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
        pass


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def create_run(root: Path, inventory: str, env: str, started: datetime | None = None) -> Path:
    """A new, empty ``root/runs/<UTC>-<inventory>-<env>`` (``-2``, ``-3``... when the second is taken)."""
    started = started or datetime.now(timezone.utc)
    base = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{_safe(inventory)}-{_safe(env)}"
    runs = root / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = runs / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise OSError(f"{runs}: cannot create a run directory named {base}")


def point_latest(root: Path, run_dir: Path) -> Path:
    """Make ``root/latest`` name ``run_dir``: a relative symlink, else a text file holding the relative path."""
    link = root / LATEST
    target = os.path.relpath(run_dir, root)
    if link.exists() and link.is_dir() and not link.is_symlink():
        return link  # a real directory someone made: not ours to replace
    tmp = root / f".{LATEST}.{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(target, tmp, target_is_directory=True)
    except (OSError, NotImplementedError):
        tmp.write_text(target + "\n", encoding="utf-8")
    os.replace(tmp, link)
    return link


def resolve_latest(root: Path) -> Path | None:
    """The run directory ``root/latest`` names (symlink or pointer file), or None."""
    link = root / LATEST
    if link.is_symlink():
        return link.resolve()
    if link.is_file():
        return (root / link.read_text(encoding="utf-8").strip()).resolve()
    return None


def run_dirs(root: Path) -> list[Path]:
    """Every run directory under ``root/runs``, oldest first."""
    runs = root / RUNS
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink() and _RUN_NAME.match(p.name))


def prune(root: Path, keep: int, current: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` run directories (0 keeps all); never ``current``. Returns what went."""
    if keep <= 0:
        return []
    gone = []
    for old in run_dirs(root)[:-keep]:
        if current is not None and old.resolve() == current.resolve():
            continue
        shutil.rmtree(old, ignore_errors=True)
        gone.append(old)
    return gone


def write_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    """``run.json``: what the run was asked to do and how it ended (merged into what is there)."""
    path = run_dir / RUN_FILE
    current: dict[str, Any] = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            current = {}
    current.update(info)
    tmp = run_dir / f".{RUN_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(current, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def publish(root: Path, run_dir: Path) -> list[str]:
    """Copy ``run_dir``'s files to ``root`` (replacing the previous run's copies); returns the names copied.

    Each name is copied next to its destination first and then swapped in, so a reader never sees a
    half-written ``junit.xml``. Only what an earlier publish recorded in ``.published.json`` is removed;
    other files in ``root`` are left alone.
    """
    manifest = root / MANIFEST
    previous: list[str] = []
    if manifest.is_file():
        try:
            previous = list(json.loads(manifest.read_text(encoding="utf-8")).get("files", []))
        except ValueError:
            previous = []
    names = sorted(p.name for p in run_dir.iterdir() if p.name != RUN_FILE and not p.name.startswith("."))
    for name in names:
        src, dst = run_dir / name, root / name
        tmp = root / f".{name}.publishing-{os.getpid()}"
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)
        if src.is_dir():
            shutil.copytree(src, tmp)
        else:
            shutil.copy2(src, tmp)
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    for name in set(previous) - set(names):
        stale = root / name
        if stale.exists() or stale.is_symlink():
            _remove(stale)
    tmp = root / f"{MANIFEST}.{os.getpid()}"
    tmp.write_text(
        json.dumps({"run": os.path.relpath(run_dir, root), "files": names}, indent=2) + "\n", encoding="utf-8"
    )
    os.replace(tmp, manifest)
    return names
