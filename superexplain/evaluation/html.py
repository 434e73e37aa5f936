"""The evaluation report as one offline page: ``write_html(data, out)`` writes ``out/index.html`` from its data."""
from __future__ import annotations

import html
import json
import math
import os
import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["write_html", "format_number"]

#: The page's only styling: inline, no fonts or files to fetch, readable from file://.
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; background: #fff; max-width: 80rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5rem 0; }
caption { text-align: left; padding: .2rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
table.scores td { text-align: right; white-space: nowrap; }
.interval { display: block; font-size: .85em; }
.wide { overflow-x: auto; max-width: 100%; }
table.scores th small, .interval, .note { color: #555; font-weight: normal; }
tr.control { background: #f2f2f2; color: #666; font-style: italic; }
td.best { font-weight: bold; background: #e8f4e8; }
.mark { font-weight: bold; }
figure { display: inline-block; margin: .5rem 1rem .5rem 0; max-width: 26rem; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
table.thumbs img { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated; display: block; }
pre { background: #f6f6f6; padding: .5rem; overflow-x: auto; }
""".strip()

_ARROWS = {True: ("\u2191", "higher is better"), False: ("\u2193", "lower is better")}
_BEST_MARK = "\u2605"


def _text(value: Any) -> str:
    """Any value as escaped page text (quotes too, so it is safe inside attributes as well)."""
    return html.escape(str(value), quote=True)


def format_number(value: Any) -> str:
    """A score as table text: three decimals (or three significant digits when tiny or large); "n/a" when missing.

    Examples
    --------
    >>> format_number(0.12345), format_number(None), format_number(float("nan")), format_number(12345.0)
    ('0.123', 'n/a', 'n/a', '1.23e+04')
    """
    if value is None or isinstance(value, bool):
        return "n/a"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(number):
        return "n/a"
    return f"{number:.3f}" if number == 0 or 1e-3 <= abs(number) < 1e4 else f"{number:.3g}"


def _relative_file(path: Any, out: str, where: str) -> str:
    """``path`` checked to be a relative file inside ``out`` that exists, as a URL-quoted ``src``/``href``."""
    if not isinstance(path, str) or not path:
        raise TypeError(f"{where} must be a file path relative to the report directory; got {path!r}")
    normal = posixpath.normpath(path.replace("\\", "/"))
    if posixpath.isabs(normal) or normal.startswith("..") or ":" in normal.split("/")[0]:
        raise ValueError(f"{where} must be a path relative to the report directory, inside it; got {path!r}")
    if not os.path.isfile(os.path.join(out, *normal.split("/"))):
        raise ValueError(f"{where}={path!r} does not exist in the report directory {out!r}")
    return quote(normal, safe="/")


def _list(data: Mapping, key: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"data[{key!r}] must be a list; got {type(value).__name__}")
    return list(value)


def _mapping(data: Mapping, key: str) -> Mapping:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise TypeError(f"data[{key!r}] must be a dict; got {type(value).__name__}")
    return value


def _score_cell(cell: Any, is_best: bool, check_label: str) -> str:
    if not isinstance(cell, Mapping) or format_number(cell.get("mean")) == "n/a":
        return '<td class="missing">n/a</td>'
    mean = format_number(cell.get("mean"))
    low, high = format_number(cell.get("low")), format_number(cell.get("high"))
    interval = "" if low == high == "n/a" else f' <span class="interval">[{low}, {high}]</span>'
    count = cell.get("n")
    title = f' title="n = {_text(count)} images"' if count is not None else ""
    if not is_best:
        return f"<td{title}>{mean}{interval}</td>"
    mark = (f'<span class="mark" role="img" aria-label="best {_text(check_label)}">{_BEST_MARK}</span>'
            '<span class="note"> best</span>')
    return f'<td class="best"{title}><strong>{mean}</strong>{interval} {mark}</td>'


def _score_table(data: Mapping) -> str:
    checks = _list(data, "checks")
    methods, controls = _list(data, "methods"), _list(data, "controls")
    table, best = _mapping(data, "table"), _mapping(data, "best")
    if not checks:
        return "<p>No checks were run.</p>"
    head = ['<th scope="col">method</th>']
    for check in checks:
        if not isinstance(check, Mapping) or "name" not in check:
            raise TypeError(f"each entry of data['checks'] must be a dict with a 'name'; got {check!r}")
        arrow, words = _ARROWS[bool(check.get("higher_is_better", True))]
        label = check.get("label") or check["name"]
        detail = " \u00b7 ".join(_text(part) for part in (check.get("family"), check.get("paper")) if part)
        head.append(f'<th scope="col" title="{_text(check.get("description", ""))}">{_text(label)} '
                    f'<span aria-label="{words}" title="{words}">{arrow}</span><br><small>{detail}</small></th>')
    rows = []
    for row_name in methods + controls:
        is_control = row_name in controls and row_name not in methods
        cells = [f'<th scope="row">{_text(row_name)}{" <small>(control)</small>" if is_control else ""}</th>']
        for check in checks:
            label = check.get("label") or check["name"]
            column = table.get(check["name"]) or {}
            won = not is_control and best.get(check["name"]) == row_name
            cells.append(_score_cell(column.get(row_name), won, label))
        rows.append(f'<tr class="{"control" if is_control else "method"}">{"".join(cells)}</tr>')
    return ('<div class="wide"><table class="scores" id="scores"><caption>Mean over images and 95% bootstrap interval '
            f'[low, high]; {_BEST_MARK} best method per column (controls never win); n/a: not applicable.'
            f'</caption><thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _figures(data: Mapping, out: str) -> str:
    parts = []
    for i, figure in enumerate(_list(data, "figures")):
        if not isinstance(figure, Mapping):
            raise TypeError(f"data['figures'][{i}] must be a dict with 'title', 'file', 'caption'; got {figure!r}")
        src = _relative_file(figure.get("file"), out, f"data['figures'][{i}]['file']")
        title = _text(figure.get("title", ""))
        caption = _text(figure.get("caption", ""))
        parts.append(f'<figure><img src="{src}" alt="{title}"><figcaption><strong>{title}</strong>'
                     f'{". " + caption if caption else ""}</figcaption></figure>')
    return "".join(parts) or "<p>No curves.</p>"


def _thumbnails(data: Mapping, out: str) -> str:
    images = _list(data, "images")
    if not images:
        return "<p>No thumbnails.</p>"
    columns = [name for name in _list(data, "methods") + _list(data, "controls")
               if any(isinstance(item, Mapping) and name in (item.get("maps") or {}) for item in images)]
    controls = set(_list(data, "controls")) - set(_list(data, "methods"))
    head = "".join(f'<th scope="col">{_text(name)}{" <small>(control)</small>" if name in controls else ""}</th>'
                   for name in ["image"] + columns)
    rows = []
    for i, item in enumerate(images):
        if not isinstance(item, Mapping):
            raise TypeError(f"data['images'][{i}] must be a dict with 'index', 'image', 'target', 'maps'; got {item!r}")
        name = f"image {_text(item.get('index', i))}"
        target = f"target {_text(item.get('target'))}" if item.get("target") is not None else ""
        src = _relative_file(item.get("image"), out, f"data['images'][{i}]['image']")
        cells = [f'<td><img src="{src}" alt="{name}"><small>{name}<br>{target}</small></td>']
        maps = item.get("maps") or {}
        for column in columns:
            if column in maps:
                map_src = _relative_file(maps[column], out, f"data['images'][{i}]['maps'][{column!r}]")
                cells.append(f'<td><img src="{map_src}" alt="{_text(column)} map of {name}"></td>')
            else:
                cells.append('<td class="missing">n/a</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<div class="wide"><table class="thumbs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _key_values(values: Mapping, caption: str) -> str:
    if not values:
        return f"<p>No {caption}.</p>"
    rows = []
    for key, value in values.items():
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        rows.append(f'<tr><th scope="row">{_text(key)}</th><td><code>{_text(shown)}</code></td></tr>')
    return f'<table class="settings"><caption>{_text(caption)}</caption><tbody>{"".join(rows)}</tbody></table>'


def _warnings(data: Mapping) -> str:
    warnings = _list(data, "warnings")
    if not warnings:
        return "<p>None.</p>"
    return "<ul>" + "".join(f"<li>{_text(text)}</li>" for text in warnings) + "</ul>"


def _downloads(out: str) -> str:
    present = [name for name in ("results.json", "results.md") if os.path.isfile(os.path.join(out, name))]
    if not present:
        return ""
    links = ", ".join(f'<a href="{name}">{name}</a>' for name in present)
    return f"<p>The numbers: {links}.</p>"


def write_html(data: Mapping, out: str | os.PathLike) -> str:
    """Write the evaluation report page ``out/index.html`` and return its path.

    The page is self-contained and works offline from ``file://``: one inline style sheet, no
    scripts, fonts or network requests; the figures and thumbnails are the PNG files the report
    lists, referenced by paths relative to ``out`` (each is checked to exist). It shows the
    methods x checks table (mean and 95% interval per cell; an arrow for each check's better
    direction; the best method per check in bold with a star and the word "best", so not by
    colour alone; the controls, e.g. the random and edge maps of Adebayo et al., arXiv
    1810.03292, greyed below the methods; "n/a" where a check does not apply), the curves
    (e.g. Sensitivity-n, Ancona et al., arXiv 1711.06104, and model randomisation), per-image
    thumbnails of every method's map, the settings and versions, and the warnings. All text is
    HTML-escaped.

    Parameters
    ----------
    data : dict
        The report's data (:attr:`EvaluationReport.data`, the contents of ``results.json``): keys
        ``title``, ``created``, ``methods``, ``controls``, ``checks``, ``table``, ``best``,
        ``figures``, ``images``, ``settings``, ``versions``, ``warnings`` (missing ones are shown
        as empty).
    out : str or path
        The report directory (it must exist and hold the files ``data`` refers to).

    Returns
    -------
    str
        The path of the page written.

    Examples
    --------
    >>> import tempfile
    >>> data = {"title": "demo", "methods": ["gradcam"], "controls": ["random"],
    ...         "checks": [{"name": "deletion_auc", "label": "Deletion AUC", "higher_is_better": False}],
    ...         "table": {"deletion_auc": {"gradcam": {"mean": 0.21, "low": 0.18, "high": 0.25, "n": 8},
    ...                                    "random": {"mean": 0.4, "low": 0.35, "high": 0.45, "n": 8}}},
    ...         "best": {"deletion_auc": "gradcam"}}
    >>> page = open(write_html(data, tempfile.mkdtemp()), encoding="utf-8").read()
    >>> "<strong>0.210</strong>" in page, "[0.350, 0.450]" in page
    (True, True)
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict (an EvaluationReport's .data); got {type(data).__name__}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a directory path; got {type(out).__name__}")
    out = os.fspath(out)
    if not os.path.isdir(out):
        raise ValueError(f"out must be an existing directory; got {out!r}")
    title = _text(data.get("title") or "superexplain evaluation report")
    created = f'<p class="note">Created {_text(data["created"])}.</p>' if data.get("created") else ""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
{_STYLE}
</style>
</head>
<body>
<header><h1>{title}</h1>{created}</header>
<main>
<section id="table-section"><h2>Methods and checks</h2>{_score_table(data)}{_downloads(out)}</section>
<section id="curves"><h2>Curves</h2>{_figures(data, out)}</section>
<section id="thumbnails"><h2>Images and maps</h2>{_thumbnails(data, out)}</section>
<section id="settings"><h2>Settings and versions</h2>{_key_values(_mapping(data, "settings"), "settings")}
{_key_values(_mapping(data, "versions"), "versions")}</section>
<section id="warnings"><h2>Warnings</h2>{_warnings(data)}</section>
</main>
</body>
</html>
"""
    path = os.path.join(out, "index.html")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page)
    return path
