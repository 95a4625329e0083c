"""The package's layout holds: the reader and serving import nothing their images lack nor anything
that sits above them, and no module's imports come back round to it.

- The reader (ONNX Runtime, numpy, Pillow) and serving (what the page and the API share) run in
  images that have no torch, so each is imported, module by module, in a fresh interpreter where
  torch, the training extra's other packages, Streamlit, `digit_knower.training` and
  `digit_knower.lifecycle` cannot be imported at all; the reader then reads a drawn digit. The
  reader sits below everything else: it may not import serving, the store or the front ends either.
- No import cycle between the modules of `src/digit_knower`, read from the source with `ast`. Only
  the imports a module runs when it is imported count (a package's __init__ re-exports included);
  imports inside functions, which run when called (the CLI's lazy dispatch), and those under
  `if TYPE_CHECKING:` do not.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOT = REPO_ROOT / "src" / "digit_knower"
PACKAGE = "digit_knower"

# The training extra's packages and the page's Streamlit: the API image carries none of them.
NOT_IN_THE_SERVING_IMAGES = ("torch", "onnx", "onnxscript", "matplotlib", "skimage", "streamlit")
OFFLINE_LOOP = ("digit_knower.training", "digit_knower.lifecycle")
FRONT_ENDS = ("digit_knower.api", "digit_knower.web")
# What each layer may never import, directly or through anything it imports.
FORBIDDEN = {
    "digit_knower.reader": (
        *NOT_IN_THE_SERVING_IMAGES,
        *OFFLINE_LOOP,
        "digit_knower.serving",
        "digit_knower.store",
        *FRONT_ENDS,
    ),
    "digit_knower.serving": (*NOT_IN_THE_SERVING_IMAGES, *OFFLINE_LOOP, *FRONT_ENDS),
}

# Runs in a fresh interpreter: argv[1] is the package to walk, argv[2:] the forbidden modules.
# A forbidden import fails as if the package were not installed, naming who tried it.
PROBE = r"""
import importlib, json, pkgutil, sys, traceback

package, forbidden = sys.argv[1], tuple(sys.argv[2:])


class Forbidden:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in forbidden):
            raise ModuleNotFoundError(f"{name} is forbidden to {package}", name=name)
        return None


sys.meta_path.insert(0, Forbidden)
failures, names, read = {}, [package], None


def imported(name):
    try:
        importlib.import_module(name)
        return True
    except Exception:
        failures[name] = traceback.format_exc(limit=-4)
        return False


if imported(package):
    path = getattr(sys.modules[package], "__path__", [])
    walked = pkgutil.walk_packages(path, package + ".", onerror=imported)
    names += [info.name for info in walked]
    for name in names[1:]:
        imported(name)
if package == "digit_knower.reader":
    try:
        from digit_knower import Predictor
        from tests.support.api import drawn_one

        read = Predictor.load().predict(drawn_one()).digit
    except Exception:
        failures["Predictor.load().predict(a drawn 1)"] = traceback.format_exc(limit=-4)
leaked = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden))
print(json.dumps({"names": names, "failures": failures, "leaked": leaked, "read": read}))
"""


@cache
def probe(package: str, forbidden: tuple[str, ...]) -> dict:
    """What PROBE found: the modules it imported (`names`), those that failed and why
    (`failures`), forbidden modules loaded anyway (`leaked`) and the digit the reader read (`read`)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, package, *forbidden],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_the_reader_and_serving_import_without_torch_training_or_what_sits_above_them(package: str) -> None:
    result = probe(package, FORBIDDEN[package])
    assert result["failures"] == {}, "\n".join(f"{name}:\n{why}" for name, why in result["failures"].items())
    assert result["leaked"] == []
    # The walk found the package's modules, not just its __init__.
    assert {f"{package}.predictor", f"{package}.startup"} & set(result["names"]), result["names"]


def test_without_torch_the_shipped_model_reads_a_drawn_digit() -> None:
    assert probe("digit_knower.reader", FORBIDDEN["digit_knower.reader"])["read"] == 1


def test_a_forbidden_import_is_caught_by_the_probe() -> None:
    """The probe itself: `digit_knower.training` imports torch, so it must fail there."""
    failures = probe("digit_knower.training.model", ("torch",))["failures"]
    assert "torch is forbidden to digit_knower.training.model" in failures["digit_knower.training.model"]


# ---- no import cycle ----


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its own name, for its __init__)."""
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def run_at_import(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements a module runs when it is imported: its top level, including `if`,
    `try` and `with` blocks and class bodies, but neither function bodies (imported when called)
    nor `if TYPE_CHECKING:` blocks (never run)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from run_at_import(node.orelse)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                yield from run_at_import(getattr(node, field, []))


def lazy_exports(path: Path, known: set[str]) -> dict[str, str]:
    """The names a package's __init__ imports on first use, each with its module: a module-level
    `__getattr__` beside a dict such as {"Store": "digit_knower.store.repository"}. `from package
    import Store` runs that import there and then, so it counts as importing the module."""
    tree = ast.parse(path.read_text(), str(path))
    if not any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in tree.body):
        return {}
    exports = {}
    for node in tree.body:
        table = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(table, ast.Dict):
            for key, value in zip(table.keys, table.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Constant) and value.value in known:
                    exports[key.value] = value.value
    return exports


def imported_modules(name: str, path: Path, known: set[str], lazy: dict[str, dict[str, str]]) -> set[str]:
    """The package's modules that `name` imports when it is imported.

    `from pkg import a` is an edge to `pkg.a` when that is a module, else to `pkg` (a name its
    __init__ defines or re-exports, so the __init__'s own imports follow) and, for a name `pkg`
    imports on first use (`lazy`), to the module it comes from. The parent packages that Python
    initialises on the way are not edges: every module of a package would otherwise close a cycle
    with an __init__ that re-exports it.
    """
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in run_at_import(ast.parse(path.read_text(), str(path)).body):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            found.add(submodule if submodule in known else base)
            if alias.name in lazy.get(base, {}):
                found.add(lazy[base][alias.name])
    return found & known


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    lazy = {name: lazy_exports(path, known) for name, path in found.items() if path.name == "__init__.py"}
    return {name: imported_modules(name, path, known, lazy) for name, path in found.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, without recursion: the components, each a list of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is not None:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                elif successor in on_stack:
                    low[node] = min(low[node], index[successor])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def one_cycle(graph: dict[str, set[str]], component: Iterable[str]) -> list[str]:
    """A shortest way round from the component's first module back to it, e.g. [a, b, a]."""
    members = set(component)
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & members):
                if successor == start:
                    return [*paths[node], start]
                if successor not in paths:
                    paths[successor] = [*paths[node], successor]
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    return [
        one_cycle(graph, component)
        for component in strongly_connected(graph)
        if len(component) > 1 or component[0] in graph[component[0]]
    ]


def test_no_import_cycle_between_the_packages_modules() -> None:
    graph = import_graph()
    assert len(graph) > 50 and graph[f"{PACKAGE}.serving.startup"], "the walk missed the package"
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_cycle_finder_finds_a_cycle_and_names_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]


def test_the_graph_reads_imports_as_python_runs_them(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from digit_knower.reader import preprocess\n"
        "from digit_knower.store import Store\n"
        "import digit_knower.settings\n"
        "if TYPE_CHECKING:\n"
        "    from digit_knower.web import app\n"
        "try:\n"
        "    from . import segment\n"
        "except ImportError:\n"
        "    pass\n"
        "def later():\n"
        "    from digit_knower.training import train\n"
    )
    known = set(modules())
    lazy = {"digit_knower.store": {"Store": "digit_knower.store.repository"}}
    found = imported_modules("digit_knower.reader.m", source, known, lazy)
    assert found == {
        "digit_knower.reader.preprocess",
        "digit_knower.store",
        "digit_knower.store.repository",
        "digit_knower.settings",
        "digit_knower.reader.segment",
    }


def test_a_name_a_package_imports_on_first_use_is_read_from_its_table() -> None:
    exports = lazy_exports(PACKAGE_ROOT / "__init__.py", set(modules()))
    assert exports["Predictor"] == "digit_knower.reader.predictor"
