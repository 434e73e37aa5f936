"""Every check of `superexplain.evaluate` on the digits CNN: each method's mean and 95% interval, controls beside.

The digits CNN of ``bench_sanity`` (scikit-learn's ``load_digits`` upsampled to 32x32; 1500 training
images, 15 epochs), 16 test images, every check that needs no masks (digits come without object
masks), and data randomisation with the same architecture trained on permuted labels of 256
training images until it memorises them.
"""
from __future__ import annotations

import functools
import time

import numpy as np

from ._common import table

METHODS = ("gradcam", "saliency", "gradient_input", "integrated_gradients", "smoothgrad", "guided_backprop",
           "occlusion", "lime", "kernelshap")
#: Epochs for the permuted-label model: enough for it to memorise 256 random labels (train accuracy >= 0.9).
RANDOM_LABEL_EPOCHS = 150


def _cell(cell: dict) -> str:
    mean, low, high = cell.get("mean"), cell.get("low"), cell.get("high")
    if mean is None or not np.isfinite(mean):
        return "n/a"
    if low is None or not np.isfinite(low) or low == high:
        return f"{mean:.3g}"
    return f"{mean:.3g} [{low:.3g}, {high:.3g}]"


def run(quick: bool = False) -> str:
    import superexplain

    from ._digits import digits_data, train_digits

    started = time.perf_counter()
    images, labels, order = digits_data()
    train, test = order[:1500], order[1500:]
    model = train_digits(images[train], labels[train], 0, 1 if quick else 15)
    accuracy = float(model.evaluate(images[test], labels[test], verbose=0)[1])
    shown = images[test][:3 if quick else 16]
    memorise = order[:256]
    epochs = 5 if quick else RANDOM_LABEL_EPOCHS
    methods = METHODS[:3] if quick else METHODS
    report = superexplain.evaluate(
        model, shown, methods, num_subsets=20 if quick else 100, rerun_images=2 if quick else 8,
        train_fn=functools.partial(train_digits, epochs=epochs),
        train_data=(images[memorise], labels[memorise]), random_state=0, verbose=0)
    data = report.data
    checks = [c["name"] for c in data["checks"]]
    arrows = {c["name"]: "↑" if c["higher_is_better"] else "↓" for c in data["checks"]}
    rows = []
    for row in list(methods) + ["random", "edge"]:
        label = row if row in methods else f"{row} (control)"
        cells = []
        for check in checks:
            cell = (data["table"].get(check) or {}).get(row)
            text = "n/a" if cell is None else _cell(cell)
            cells.append(f"**{text}**" if data["best"].get(check) == row else text)
        rows.append([label] + cells)
    warnings = "\n".join(f"- {w}" for w in data["warnings"]) or "- none"
    return (
        f"## Every check on the digits CNN (test accuracy {accuracy:.3f}), {len(shown)} test images\n\n"
        f"`superexplain.evaluate` with the methods at their defaults, {data['settings']['num_subsets']} subsets "
        f"for Sensitivity-n and faithfulness correlation, the re-running checks on the first "
        f"{data['settings']['rerun_images']} images, and data randomisation against the same architecture "
        f"trained for {epochs} epochs on permuted labels of 256 training images. Digits have no object masks, "
        "so the localisation checks do not run. Mean [95% bootstrap interval] over images; the best method per "
        "check in bold (never a control); ↑/↓: which way is better.\n\n"
        + table(["row"] + [f"{c} {arrows[c]}" for c in checks], rows)
        + f"\n\nThe report's warnings:\n\n{warnings}\n\nTime: {time.perf_counter() - started:.0f} s.\n"
    )
