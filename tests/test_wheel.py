"""The installed wheel provides one top-level import package (``harness``) and does not break other projects: a
project with its own ``plugins/`` and ``checks/`` packages runs its own pytest green beside it.

The wheel is built without build isolation (offline: the backend comes with the ``test`` extra), installed into
a fresh venv without pip; the venv reaches the harness's dependencies through a ``.pth`` line naming a copy
of this venv's site-packages listing without the harness itself (so only the wheel can provide ``harness``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

SOURCES = ("harness", "pyproject.toml", "README.md")
FOREIGN_TEST = """
import checks
import plugins


def test_the_project_imports_its_own_plugins_and_checks():
    assert plugins.OWNER == "foreign" and checks.OWNER == "foreign"


def test_the_harness_plugin_is_loaded_from_the_wheel(pytestconfig):
    import harness

    assert pytestconfig.pluginmanager.has_plugin("runbook_harness")
    assert "site-packages" in harness.__file__ and "{repo}" not in harness.__file__
"""


def _build_wheel(tmp: Path) -> Path:
    """The wheel, built from a copy of the sources (the checkout gets no build/ or egg-info)."""
    if importlib.util.find_spec("wheel") is None:
        pytest.skip("the build backend is not installed (pip install -e '.[test]' brings setuptools and wheel)")
    src = tmp / "src"
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
    out = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(src), "-w", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=240,
    )
    (wheel,) = out.glob("runbook_harness-*.whl")
    return wheel


def _dependencies(tmp: Path) -> Path:
    """This venv's site-packages without the harness: a folder of links to everything else."""
    deps = tmp / "deps"
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.startswith(("runbook_harness", "__editable__", "harness")) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    return deps


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv without pip, the wheel installed in it, the dependencies reachable; returns its python."""
    home = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz-harness-deps.pth").write_text(f"{_dependencies(tmp)}\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return python


def _foreign_project(tmp: Path) -> Path:
    """A project with packages named like the ones the wheel used to install at the top level."""
    project = tmp / "foreign"
    for package in ("plugins", "checks"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text('OWNER = "foreign"\n', encoding="utf-8")
    (project / "tests").mkdir()
    (project / "tests" / "test_foreign.py").write_text(FOREIGN_TEST.format(repo=REPO), encoding="utf-8")
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n', encoding="utf-8")
    return project


def test_the_wheel_has_one_top_level_package(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        tops = {n.split("/", 1)[0] for n in z.namelist() if not n.split("/", 1)[0].endswith(".dist-info")}
        entry_points = z.read(next(n for n in z.namelist() if n.endswith("entry_points.txt"))).decode()
    assert tops == {"harness"}, tops
    plugins = [line for line in entry_points.splitlines() if line.startswith("runbook_harness")]
    assert plugins and all("= harness." in line for line in plugins), entry_points

    python = _fresh_venv(tmp_path, wheel)
    project = _foreign_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    ran = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "2 passed" in ran.stdout, ran.stdout[-2000:]
