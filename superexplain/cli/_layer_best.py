"""``--layer best``: the layer advisor ranks the candidate layers, the run explains at the winner, the table is shown."""
from __future__ import annotations

import argparse
import json
import os

from ._common import UsageError
from ._inputs import read_all_inputs

#: Images of the run itself the advisor ranks on when no --calibrate folder is given (evenly spaced).
RANKED_IMAGES = 16


def add_calibrate_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibrate", metavar="DIR",
                        help="with --layer best: rank the layers on these held-out images (a folder, files or a "
                             f"glob) instead of up to {RANKED_IMAGES} of the explained ones, so that the layer is "
                             "not chosen on the very images it explains")


def wants_best(options: dict) -> bool:
    return isinstance(options.get("layer"), str) and options["layer"] == "best"


def advise_layer(args: argparse.Namespace, predictor, paths: list[str], target, summary) -> dict:
    """Rank the layers for ``args.method`` (on ``--calibrate`` or up to RANKED_IMAGES of ``paths``) and print the
    table; returns the ranking's record (best layer first; :func:`write_ranking` saves it once the run exists)."""
    from superexplain.advisor import rank_layers
    from superexplain.advisor.rank import RANKED_METHODS

    if args.method not in RANKED_METHODS:
        raise UsageError(f"--layer best ranks the layers of {', '.join(RANKED_METHODS)}; not --method {args.method}")
    if args.top_labels is not None or (target is not None and len(target) > 1):
        raise UsageError("--layer best ranks the layers for one class per image; give at most one --target")
    if args.calibrate:
        specs, where = [args.calibrate], f"the held-out images of --calibrate {args.calibrate}"
    else:
        step = max(1, len(paths) // RANKED_IMAGES)
        specs = paths[::step][:RANKED_IMAGES]
        where = (f"{len(specs)} of the explained images (choosing on the images shown is selection; "
                 "--calibrate DIR ranks on held-out ones)")
    inputs = read_all_inputs(specs, predictor.input_shape, args.size, args.preprocess)
    with summary.timed("rank_layers"):
        ranking = rank_layers(predictor, inputs.inputs, None if target is None else target[0], method=args.method,
                              random_state=args.seed if isinstance(args.seed, int) else 0)
    record = {**ranking.to_dict(), "ranked_on": inputs.paths}
    summary.data["layer_ranking"] = record
    summary.note(f"--layer best: ranked on {where}")
    summary.note(ranking.table())
    summary.note(f"--layer best: explaining at {ranking.best}")
    return record


def write_ranking(record: dict, out: str, summary) -> None:
    """``layer_ranking.json`` in the run folder (written after the run, which wants its folder to itself first)."""
    path = os.path.join(out, "layer_ranking.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    summary.file(path, "layer ranking (JSON)")
