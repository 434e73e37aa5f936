"""A griffe extension for the API pages: docstrings as Python shows them, their Sphinx roles as links.

superexplain's docstrings are NumPy style with Sphinx cross-reference roles (``:func:`deletion```,
``:class:`~.cam_graph.CamGraph```, ``:mod:`.cams```). mkdocstrings renders docstrings as Markdown, where
a role would show as raw text. This extension, run by mkdocstrings-python when it loads the package
(statically: no import, no TensorFlow), rewrites each role into an *optional* autorefs link:

- the target is resolved the way Sphinx resolves it: a leading ``.`` searches the current module and
  then its parents; a bare name searches the current class, module and package, then the public
  sub-packages, then (when only one object in the package has that name) the whole package;
- the resolved object's canonical path is the identifier, so a link reaches the entry wherever the
  API pages render it under its public name (mkdocstrings registers canonical paths as aliases);
- ``~`` shows the last component only, as in Sphinx;
- the link is *optional*: when the target is not rendered on any page (a private helper, a
  third-party class), the name is shown as code and the strict build does not warn.

A few docstrings are templates filled in when the module runs (``max_sensitivity.__doc__ %=
(_PARAMETERS, _NOTES)``, to share a Parameters section). Read statically, they would show ``%s``
and lose their sections, so the same substitution is made here first, from the module-level string
constants the statement names.

Nothing in ``superexplain/`` is changed; only the text that the API pages render.
"""
from __future__ import annotations

import ast
import html
import inspect
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|obj|exc|const):`(?P<body>[^`]+)`")

#: Where a bare name is looked for after the object's own scopes: the package and its public rooms.
PUBLIC_SCOPES = ("superexplain", "superexplain.metrics", "superexplain.sanity", "superexplain.datasets",
                 "superexplain.models", "superexplain.gradcam", "superexplain.advisor",
                 "superexplain.perturbation", "superexplain.plotting", "superexplain.runner",
                 "superexplain.evaluation", "superexplain.segmentation", "superexplain.targets")


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if member.is_alias:
            continue
        yield from _walk(member)


def _module_of(obj: griffe.Object) -> griffe.Object:
    while not obj.is_module:
        obj = obj.parent
    return obj


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` in every docstring of the package into an optional autorefs link."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self.package = pkg
        self.by_name: dict[str, set[str]] = {}
        objects = list(_walk(pkg))
        for obj in objects:
            self.by_name.setdefault(obj.name, set()).add(obj.path)
        for module in (obj for obj in objects if obj.is_module):
            self._fill_docstring_templates(module)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = ROLE.sub(lambda match, o=obj: self._link(match, o), obj.docstring.value)

    # -- docstring templates ----------------------------------------------------------------------
    def _string_constant(self, module: griffe.Module, name: str) -> str | None:
        try:
            found = module[name]
            value = found.final_target.value if found.is_alias else found.value
            text = ast.literal_eval(str(value))
        except Exception:  # noqa: BLE001 - not a string constant known statically: leave the template
            return None
        return text if isinstance(text, str) else None

    def _fill_docstring_templates(self, module: griffe.Module) -> None:
        """Apply the module's ``function.__doc__ %= (CONSTANT, ...)`` statements to the docstrings shown."""
        if module.filepath is None or isinstance(module.filepath, list):
            return
        tree = ast.parse(module.filepath.read_text(encoding="utf-8"))
        functions = {node.name: node for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Mod)
                    and isinstance(node.target, ast.Attribute) and node.target.attr == "__doc__"
                    and isinstance(node.target.value, ast.Name)):
                continue
            name = node.target.value.id
            parts = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            if name not in functions or name not in module.members or not all(isinstance(p, ast.Name) for p in parts):
                continue
            values = [self._string_constant(module, part.id) for part in parts]
            raw = ast.get_docstring(functions[name], clean=False)
            target = module.members[name]
            if raw is None or None in values or target.docstring is None:
                continue
            target.docstring.value = inspect.cleandoc(raw % tuple(values))

    # -- resolution -------------------------------------------------------------------------------
    def _lookup(self, path: str) -> griffe.Object | griffe.Alias | None:
        try:
            return self.package.modules_collection[path]
        except Exception:  # noqa: BLE001 - KeyError or an alias that cannot be resolved
            return None

    def _canonical(self, found: griffe.Object | griffe.Alias) -> str:
        try:
            return found.canonical_path
        except Exception:  # noqa: BLE001 - an alias to something outside the package
            return found.path

    def _resolve(self, target: str, obj: griffe.Object) -> str | None:
        module = _module_of(obj)
        if target.startswith("."):
            relative = target.lstrip(".")
            scope: griffe.Object | None = module
            while scope is not None:
                found = self._lookup(f"{scope.path}.{relative}")
                if found is not None:
                    return self._canonical(found)
                scope = scope.parent
            return None
        scopes = []
        scope = obj if not obj.is_module else None
        while scope is not None and not scope.is_module:
            scopes.append(scope.path)
            scope = scope.parent
        scopes.append(module.path)
        if module.parent is not None:
            scopes.append(module.parent.path)
        scopes.extend(PUBLIC_SCOPES)
        for prefix in scopes:
            found = self._lookup(f"{prefix}.{target}")
            if found is not None:
                return self._canonical(found)
        found = self._lookup(target)
        if found is not None:
            return self._canonical(found)
        candidates = self.by_name.get(target.rsplit(".", 1)[-1], set())
        if len(candidates) == 1:
            return next(iter(candidates))
        return None

    def _link(self, match: re.Match, obj: griffe.Object) -> str:
        body = match.group("body").strip()
        titled = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>", body)  # Sphinx's "title <target>"
        if titled:
            target, label = titled.group("target").strip().lstrip("~"), titled.group("title")
        else:
            shown_last_only = body.startswith("~")
            target = body.lstrip("~")
            label = target.rsplit(".", 1)[-1] if shown_last_only else target.lstrip(".")
        if match.group(1) in ("func", "meth"):
            label += "()"
        code = f"<code>{html.escape(label)}</code>"
        identifier = self._resolve(target, obj)
        if identifier is None:
            return code
        return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'
