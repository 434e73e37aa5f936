"""MkDocs hooks: every public name must have an API entry; folders the gallery wrote are copied as they are.

1. ``on_pre_build``: the public names are read from the source without importing it:
   ``superexplain/__init__.py``'s ``_PUBLIC`` table (what ``superexplain.__all__`` is made of) and the
   ``__all__`` of each public room. Each must have an anchor ``[](){#superexplain.room.name}`` on a
   page under ``docs/api/``, placed beside its entry, so that ``[text][superexplain.room.name]`` links
   to it from any page. A name added to an ``__all__`` without an entry is a warning, which
   ``mkdocs build --strict`` turns into a failure.
2. ``on_post_build``: the Markdown files of folders that gallery examples write are copied unrendered.
"""
from __future__ import annotations

import ast
import logging
import re
import shutil
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.api_coverage")

#: The public rooms whose ``__all__`` the reference documents (superexplain.targets is a module).
PUBLIC_ROOMS = ("metrics", "sanity", "datasets", "models", "targets", "segmentation", "gradcam", "perturbation",
                "plotting", "runner", "evaluation", "advisor")

ANCHOR = re.compile(r"\[\]\(\)\{#(superexplain[\w.]*)\}")


def _literal_assignment(path: Path, name: str):
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(getattr(target, "id", None) == name for target in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    raise LookupError(f"{path} assigns no literal {name}")


def public_names(package_dir: Path) -> list[str]:
    """Every public dotted name: ``superexplain.X`` for the top level, ``superexplain.room.X`` for the rooms."""
    names = [f"superexplain.{name}" for name in _literal_assignment(package_dir / "__init__.py", "_PUBLIC")]
    for room in PUBLIC_ROOMS:
        source = package_dir / room / "__init__.py"
        if not source.exists():
            source = package_dir / f"{room}.py"
        names.append(f"superexplain.{room}")
        names.extend(f"superexplain.{room}.{name}" for name in _literal_assignment(source, "__all__"))
    return names


def on_pre_build(config, **kwargs) -> None:
    root = Path(config["config_file_path"]).parent
    api_dir = Path(config["docs_dir"]) / "api"
    anchors: set[str] = set()
    for page in sorted(api_dir.glob("*.md")):
        anchors.update(ANCHOR.findall(page.read_text(encoding="utf-8")))
    missing = [name for name in public_names(root / "superexplain") if name not in anchors]
    if missing:
        log.warning("the API reference has no entry for %d public name(s): %s; add an anchor "
                    "[](){#NAME} and a '::: path' entry under docs/api/", len(missing), ", ".join(missing))


def on_post_build(config, **kwargs) -> None:
    """Copy the Markdown files of the folders that gallery examples write (an evaluation report) unrendered.

    An example may write a whole folder beside its page (``docs/generated/gallery/<folder>/``): the
    evaluation report's ``index.html`` links to its ``results.md``. MkDocs would render that file as a
    page, so ``exclude_docs`` leaves it out (``/generated/gallery/*/**/*.md``) and it is copied here
    byte for byte, beside the rest of its folder.
    """
    gallery = Path(config["docs_dir"]) / "generated" / "gallery"
    for folder in (path for path in gallery.glob("*") if path.is_dir()) if gallery.is_dir() else ():
        for source in folder.rglob("*.md"):
            target = Path(config["site_dir"]) / source.relative_to(config["docs_dir"])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
