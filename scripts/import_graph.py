"""Print the project's import graph: arrows between apps, inside visualsearch, and every cycle.

    python scripts/import_graph.py                                 # text on stdout
    python scripts/import_graph.py --markdown docs/import-graph.md  # and the same as Markdown

Reads the apps' Python modules with `ast` (tests and migrations left out), so nothing is imported
and no Django set-up is needed. Every `import` / `from … import` counts, including those inside
functions (they run when the function does: a cycle through one is still a cycle); imports under
`if TYPE_CHECKING:` are listed but never run, so they make no cycle. Imports by string
(`import_string`, settings naming a class) are not seen.

Exits 1 when there is a cycle: between modules, between apps, or between visualsearch's parts.
Standard library only; nothing in the project imports this file.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every Django app (a folder with an apps.py), and the project's settings package.
APPS = (*sorted(path.parent.name for path in ROOT.glob("*/apps.py")), "config")
INSIDE = "visualsearch"  # the app whose parts get their own arrows
SKIPPED_DIRS = {"tests", "migrations", "__pycache__"}

# How an import runs: at import time, when its function is called, or never (type checkers only).
TOP, FUNCTION, TYPING = "top", "function", "type-checking"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT / app)
            if SKIPPED_DIRS & set(relative.parts[:-1]):
                continue
            if path.name.startswith("test_") or path.name == "conftest.py":
                continue
            modules[module_name(path)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.AST, kind: str = TOP) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement under `tree`, with how it runs."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, kind
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from imports(node, TYPING if kind == TYPING else FUNCTION)
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.body:
                yield from imports(ast.Module(body=[child], type_ignores=[]), TYPING)
            for child in node.orelse:
                yield from imports(ast.Module(body=[child], type_ignores=[]), kind)
        else:
            yield from imports(node, kind)


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest project module that `name` starts with (a name may end in a class or function)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def targets(node: ast.Import | ast.ImportFrom, source: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        package = source.split(".") if is_package else source.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base]) if base else ".".join(package)
    for alias in node.names:
        # `from package import module` imports the module; `from module import name` the module.
        yield f"{base}.{alias.name}" if alias.name != "*" else base


def edges(modules: dict[str, Path]) -> set[Edge]:
    found: dict[tuple[str, str], str] = {}
    rank = {TOP: 0, FUNCTION: 1, TYPING: 2}
    for source, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in imports(tree):
            for name in targets(node, source, path.name == "__init__.py"):
                target = resolve(name, modules)
                if target is None or target == source:
                    continue
                key = (source, target)
                # One arrow per pair of modules, with the way of importing that runs soonest.
                if key not in found or rank[kind] < rank[found[key]]:
                    found[key] = kind
    return {Edge(source, target, kind) for (source, target), kind in found.items()}


def app_of(module: str) -> str:
    return module.split(".")[0]


def part_of(module: str) -> str:
    """visualsearch.index.memory → visualsearch.index; visualsearch.search → visualsearch.search."""
    return ".".join(module.split(".")[:2])


def cycles(nodes: Iterable[str], arrows: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative), sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in arrows:
        graph[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


@dataclass
class Report:
    modules: dict[str, Path]
    edges: set[Edge]

    def runtime(self) -> list[Edge]:
        return sorted((e for e in self.edges if e.kind != TYPING), key=lambda e: (e.source, e.target))

    def grouped(self, group: Callable[[str], str], keep: Callable[[Edge], bool]) -> Counter[tuple[str, str]]:
        counts: Counter[tuple[str, str]] = Counter()
        for edge in self.runtime():
            if keep(edge):
                source, target = group(edge.source), group(edge.target)
                if source != target:
                    counts[source, target] += 1
        return counts

    def app_arrows(self) -> Counter[tuple[str, str]]:
        return self.grouped(app_of, lambda e: True)

    def part_arrows(self) -> Counter[tuple[str, str]]:
        return self.grouped(part_of, lambda e: app_of(e.source) == app_of(e.target) == INSIDE)

    def module_cycles(self) -> list[list[str]]:
        return cycles(self.modules, ((e.source, e.target) for e in self.runtime()))

    def cycle_edges(self, members: list[str], group: Callable[[str], str] = str) -> list[Edge]:
        """The arrows that make a cycle: between its members (modules, or modules of different groups)."""
        inside = set(members)
        return [
            e
            for e in self.runtime()
            if group(e.source) in inside and group(e.target) in inside and group(e.source) != group(e.target)
        ]


def arrow_rows(counts: Counter[tuple[str, str]]) -> list[tuple[str, str, int, bool]]:
    return [(s, t, n, (t, s) in counts) for (s, t), n in sorted(counts.items())]


def render(report: Report, markdown: bool) -> str:
    lines: list[str] = []
    app_arrows, part_arrows = report.app_arrows(), report.part_arrows()
    app_cycles = cycles({app_of(m) for m in report.modules}, app_arrows)
    part_cycles = cycles({part_of(m) for m in report.modules if app_of(m) == INSIDE}, part_arrows)
    module_cycles = report.module_cycles()
    typing_only = sorted((e for e in report.edges if e.kind == TYPING), key=lambda e: (e.source, e.target))
    apps = sorted({app_of(m) for m in report.modules})

    def heading(text: str) -> None:
        lines.extend(["", f"## {text}", ""] if markdown else ["", text, "-" * len(text)])

    def arrows(counts: Counter[tuple[str, str]], what: str) -> None:
        if markdown:
            lines.extend(["| from | to | imports | both ways |", "| --- | --- | ---: | --- |"])
        for source, target, count, both in arrow_rows(counts):
            flag = "**yes**" if markdown and both else ("both ways" if both else "")
            if markdown:
                lines.append(f"| `{source}` | `{target}` | {count} | {flag} |")
            else:
                lines.append(f"  {source:28} -> {target:28} {count:4}  {flag}")
        if not counts:
            lines.append(f"(no arrows between {what})")

    def cycle_list(found: list[list[str]], group: Callable[[str], str], what: str) -> None:
        if not found:
            lines.append(f"None: no cycle between {what}." if markdown else f"  none between {what}")
            return
        for number, members in enumerate(found, 1):
            names = ", ".join(f"`{m}`" if markdown else m for m in members)
            lines.append(f"{number}. **CYCLE** ({len(members)}): {names}" if markdown else f"  CYCLE {number}: {names}")
            for edge in report.cycle_edges(members, group):
                where = " (inside a function)" if edge.kind == FUNCTION else ""
                lines.append(
                    f"   - `{edge.source}` → `{edge.target}`{where}"
                    if markdown
                    else f"      {edge.source} -> {edge.target}{where}"
                )

    title = "Import graph"
    if markdown:
        lines.extend(
            [
                f"# {title}",
                "",
                "Generated by `python scripts/import_graph.py --markdown docs/import-graph.md` from the code's",
                "imports (read with `ast`: imports inside functions count, `if TYPE_CHECKING:` ones do not; tests",
                "and migrations left out). Regenerate it after changing imports; the script exits 1 on any cycle.",
                "",
                f"{len(report.modules)} modules in {len(apps)} apps ({', '.join(f'`{a}`' for a in apps)}); "
                f"{len(report.runtime())} arrows between modules.",
            ]
        )
    else:
        lines.append(f"{title}: {len(report.modules)} modules, {len(report.runtime())} arrows between modules")

    heading("Arrows between apps (number of module → module imports)")
    arrows(app_arrows, "apps")
    heading(f"Arrows between the parts of {INSIDE} (sub-packages and top-level modules)")
    arrows(part_arrows, f"the parts of {INSIDE}")
    heading("Cycles between modules")
    cycle_list(module_cycles, str, "modules")
    heading("Cycles between apps")
    cycle_list(app_cycles, app_of, "apps")
    heading(f"Cycles between the parts of {INSIDE}")
    cycle_list(part_cycles, part_of, f"the parts of {INSIDE}")
    heading("Imports for type checkers only (`if TYPE_CHECKING:`, not in the arrows above)")
    for edge in typing_only:
        lines.append(f"- `{edge.source}` → `{edge.target}`" if markdown else f"  {edge.source} -> {edge.target}")
    if not typing_only:
        lines.append("None.")
    total = len(module_cycles) + len(app_cycles) + len(part_cycles)
    lines.extend(["", f"{total} cycle(s)." if total else "No cycles."])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the report as Markdown here")
    args = parser.parse_args(argv)
    modules = project_modules()
    report = Report(modules, edges(modules))
    sys.stdout.write(render(report, markdown=False))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render(report, markdown=True), encoding="utf-8")
    has_cycle = bool(report.module_cycles())
    has_cycle |= bool(cycles({app_of(m) for m in modules}, report.app_arrows()))
    has_cycle |= bool(cycles({part_of(m) for m in modules if app_of(m) == INSIDE}, report.part_arrows()))
    return 1 if has_cycle else 0


if __name__ == "__main__":
    sys.exit(main())
