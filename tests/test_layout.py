"""The rooms of the project and what may enter them (README "Layout", ../shared/DESIGN.md).

Every import counts, function-level ones included, and transitively through the project's own
modules: a Beam worker that calls a lazily imported torch still has to install torch.
"""

import ast
import pathlib
from functools import lru_cache
from typing import Dict, FrozenSet, Set, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "sources", "pipelines", "filtering", "model")
# Corpus-level operations: used by the corpus job's Beam workers, so never torch.
CORPUS_LEVEL = ("filtering.minhash", "filtering.decontamination", "filtering.corpus_keys", "filtering.corpus_stats",
                "filtering.pool", "filtering.text_hash")
MAX_SOURCES_TOP_LEVEL = 16


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def _modules() -> Dict[str, pathlib.Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


@lru_cache(maxsize=None)
def _imports(module: str) -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """(project modules, external top-level packages) that `module` imports anywhere in its code."""
    modules = _modules()
    internal: Set[str] = set()
    external: Set[str] = set()
    for node in ast.walk(ast.parse(modules[module].read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    internal.add(name)
            else:
                external.add(name.split(".")[0])
    return frozenset(internal), frozenset(external)


def _reach(module: str) -> Dict[str, str]:
    """Every external package `module` reaches -> the chain of project modules that imports it."""
    seen, stack, found = {module: module}, [module], {}
    while stack:
        current = stack.pop()
        internal, external = _imports(current)
        for package in external:
            found.setdefault(package, seen[current])
        for child in sorted(internal - seen.keys()):
            seen[child] = f"{seen[current]} -> {child}"
            stack.append(child)
    return found


def _violations(prefix: str, banned: Tuple[str, ...]):
    return [f"{chain} imports {package}" for module in sorted(_modules()) if module == prefix or
            module.startswith(prefix + ".") for package, chain in sorted(_reach(module).items()) if package in banned]


@pytest.mark.parametrize("room, banned", [
    ("schemas", ("apache_beam", "torch", "transformers", "faiss")),
    ("sources", ("apache_beam", "torch", "transformers", "faiss")),
    ("model", ("apache_beam",)),
    *[(module, ("torch", "transformers", "faiss")) for module in CORPUS_LEVEL],
])
def test_import_rules(room, banned):
    assert _violations(room, banned) == []


def test_the_rule_sees_a_violation():
    """The check itself can fail: the consistency filter does reach torch."""
    assert "torch" in _reach("filtering.consistency")


def test_sources_top_level_stays_small():
    top = sorted(p.name for p in (ROOT / "sources").glob("*.py"))
    assert len(top) <= MAX_SOURCES_TOP_LEVEL, top


def test_no_one_letter_module_aliases():
    found = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found += [f"{module}:{node.lineno} {alias.name} as {alias.asname}" for alias in node.names
                          if alias.asname and len(alias.asname) == 1 and alias.asname.isupper()]
    assert found == []
