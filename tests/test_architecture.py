"""The rules in docs/architecture.md, checked over the package's own source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "summarizer"

GROUPS = {
    "foundation": {
        "usage",
        "errors",
        "document",
        "paths",
        "config",
        "options",
        "private",
        "sinks",
        "progress",
        "conversion",
    },
    "stage": {"ingest", "clean", "render", "schema", "ages", "ground", "reference"},
    "backend": {"backends", "ratelimit"},
    "ask": {"asking"},
    "contract": {"results"},
    "runner": {"runner", "sync"},
    "record": {"pipeline"},
    "output": {"output"},
    "store": {"cache", "runlog", "sqlite_store"},
    "orchestration": {"local_batch", "budget", "evaluation", "review", "batch_api"},
    "interface": {"cli", "__init__"},
}
_BELOW_INTERFACE = set(GROUPS) - {"interface"}
MAY_IMPORT = {
    "foundation": {"foundation"},
    "stage": {"foundation", "stage"},
    "backend": {"foundation", "stage", "backend"},
    "ask": {"foundation", "stage", "backend"},
    "contract": {"foundation", "stage"},
    "runner": {"foundation", "contract"},
    "record": {"foundation", "stage", "backend", "ask", "contract", "runner"},
    "output": {"foundation", "stage", "contract"},
    "store": {"foundation", "store"},
    "orchestration": _BELOW_INTERFACE,
    "interface": set(GROUPS),
}
GROUP_OF = {module: group for group, modules in GROUPS.items() for module in modules}


def sources() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        top = (
            relative.parts[0].removesuffix(".py")
            if len(relative.parts) > 1 or relative.stem != "__init__"
            else "__init__"
        )
        yield top, path, ast.parse(path.read_text(encoding="utf-8"))


def imported_tops(path: Path, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, top-level package module) for every import of our own package in ``tree``."""
    here = path.relative_to(PACKAGE).parent.parts  # the package the file is in
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - (node.level - 1)])
                parts = base + (node.module.split(".") if node.module else [])
                names = [alias.name for alias in node.names] if not parts else [parts[0]]
                for name in names:
                    yield node.lineno, name
            elif node.module and node.module.split(".")[0] == "summarizer":
                parts = node.module.split(".")
                yield node.lineno, parts[1] if len(parts) > 1 else "__init__"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "summarizer":
                    yield node.lineno, parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_group() -> None:
    unknown = {top for top, _, _ in sources()} - set(GROUP_OF)
    assert not unknown, f"add these to GROUPS (and docs/architecture.md): {sorted(unknown)}"


def test_imports_follow_the_layers() -> None:
    broken = []
    for top, path, tree in sources():
        group = GROUP_OF[top]
        for line, target in imported_tops(path, tree):
            if target not in GROUP_OF or GROUP_OF[target] == group:
                continue  # within a group, anything goes
            if GROUP_OF[target] not in MAY_IMPORT[group]:
                where = path.relative_to(PACKAGE.parent)
                broken.append(f"{where}:{line}: {group} {top} imports {GROUP_OF[target]} {target}")
    assert not broken, "\n".join(broken)


def test_the_rules_detect_a_broken_layer() -> None:
    tree = ast.parse("from ..pipeline import Summarizer\nfrom summarizer.cli import cli\n")
    found = list(imported_tops(PACKAGE / "output" / "x.py", tree))
    assert found == [(1, "pipeline"), (2, "cli")]
    assert "record" not in MAY_IMPORT["output"] and "interface" not in MAY_IMPORT["output"]


# --- no import cycles (issue 27) ----------------------------------------------------------


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _checking_only(tree: ast.Module) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: imports for annotations, never run."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(getattr(sub, "lineno", 0) for sub in ast.walk(child))
    return lines


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports, at the top or late (inside a function)."""
    paths = {_module(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _checking_only(tree)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
                module = ".".join([*base, node.module] if node.module else base)
                if not node.level:
                    module = node.module or ""
                for alias in node.names:  # a name may be a submodule
                    child = f"{module}.{alias.name}"
                    targets.add(child if child in paths else module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {target for target in targets if target in paths and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycles_late_imports_included() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(group) for group in found)


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "summarizer.output.table" in graph["summarizer.output"]  # names and submodules seen
    assert "summarizer.asking" in graph["summarizer.pipeline"]  # a late import counts


# --- no leftovers (issue 11) -------------------------------------------------------------------

REGISTRATION = {"backends/rules.py", "backends/__init__.py", "config.py"}


def test_no_backend_is_recognised_by_name() -> None:
    """Backend names appear in their registration and their own module, nowhere else."""
    found = []
    for _, path, tree in sources():
        relative = str(path.relative_to(PACKAGE))
        if relative in REGISTRATION:
            continue
        names = {"rules"} if relative.startswith("backends/") else {"rules", "openai", "llamacpp"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert not found, "ask the backend for its capabilities instead:\n" + "\n".join(found)


def test_no_getattr_or_type_ignore_for_accounting_or_lifecycle() -> None:
    found = []
    for _, path, tree in sources():
        relative = str(path.relative_to(PACKAGE))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr", "setattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in ("usage", "attempts", "aclose", "failed_attempts")
            ):
                found.append(f"{relative}:{node.lineno}: {node.func.id}({node.args[1].value!r})")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "type: ignore" in line and any(
                word in line for word in ("usage", "attempts", "aclose", "extract(")
            ):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_one_loop_over_records() -> None:
    """Only the runner starts concurrent work over records."""
    found = []
    for top, path, tree in sources():
        if top == "runner":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in (
                "create_task",
                "gather",
                "Semaphore",
                "Queue",
                "as_completed",
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.attr}")
    assert not found, "\n".join(found)
