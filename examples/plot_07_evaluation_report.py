"""
One report for several methods: evaluate
========================================

Which method should you trust on *your* model? [`superexplain.evaluate`][superexplain.evaluate]
explains a set of images with each method, runs every check that applies (faithfulness:
deletion, insertion, Sensitivity-n, faithfulness and monotonicity correlation, ROAD; complexity;
localisation, when object masks are given; robustness; randomisation), each beside a random-map
and an edge-map control, and writes one folder with a self-contained `index.html`.

Here: four demo images, three methods. The checks' settings are deliberately small so that the
page builds quickly; a real evaluation wants more images (the report's 95% intervals are wide).
"""

import os
import tempfile
from pathlib import Path

import superexplain
from superexplain.datasets import load_demo_model, make_shapes
from superexplain.runner import DatasetResult

model = load_demo_model()
data = make_shapes(4, seed=0)

# When this site is built, the report is written beside this page so that it can be linked from
# it; run on its own, the script writes it to a temporary folder.
gallery_folder = os.environ.get("SUPEREXPLAIN_GALLERY_OUT") or tempfile.mkdtemp()
report_folder = Path(gallery_folder) / "evaluation_report"

# %%
# Run it
# ------
# The methods run through [`explain_dataset`][superexplain.explain_dataset] into
# `report_folder/explanations/` (a second call resumes), then the checks. The checks that re-run
# a method (max-sensitivity, random logit, model randomisation) are the slow ones: they use the
# first `rerun_images` images only (4 by default, 1 here, so those columns have no interval).
# `method_options` passes options to a method: LIME with a fixed 300 samples here.

report = superexplain.evaluate(model, data.images, methods=("gradcam", "lime", "integrated_gradients"),
                               masks=data.masks, out=report_folder, random_state=0, rerun_images=1,
                               method_options={"lime": {"num_samples": 300}}, verbose=0)
print("written:", sorted(path.name for path in report_folder.iterdir()))

# %%
# What was evaluated: each method's run folder is an ordinary `explain_dataset` run, readable with
# [`DatasetResult`][superexplain.runner.DatasetResult]. The first three images, one column per
# method:

methods = report.data["methods"]
runs = {method: list(DatasetResult.open(report_folder / "explanations" / method).explanations())
        for method in methods}
fig = superexplain.compare([[runs[method][i] for method in methods] for i in range(3)], panel_size=2.4)

# %%
# Two things in this picture are the drawing, not the evaluation. The integrated-gradients panels
# look empty because a pixel attribution is heavy-tailed and the overlay's opacity is linear up to
# its largest value ([gradients vs perturbations](plot_03_gradient_vs_perturbation.md) clips the
# scale to show it). And LIME explains the probability by default: where the model is sure
# (p = 1), hiding superpixels hardly moves it, and the weights are tiny (see the colour bars). The
# checks score the maps' values, not how they are drawn.

# %%
# The table
# ---------
# One row per method, then the controls; the mean over images of each check. `report.best` names
# the best method per check (the controls are never marked best).

checks = report.data["checks"]
print(f"{'':22s}" + "".join(f"{check['name'][:12]:>13s}" for check in checks[:7]))
for row in report.table():
    cells = [row["cells"][check["name"]] for check in checks[:7]]
    print(f"{row['name']:22s}" + "".join(f"{'n/a' if c is None else format(c['mean'], '.3f'):>13s}" for c in cells))
print()
print("best per check:")
for check, method in report.best.items():
    print(f"  {check:26s} {method}")

# %%
# The same table with 95% intervals, every check, the curves, a thumbnail of every map and the
# settings are in the report's page: **[open the evaluation report](evaluation_report/index.html)**
# (written by the code above when this site was built). Its overview figure, as the report saved
# it:
#
# ![every check, each method's mean and 95% interval](evaluation_report/figures/checks.png)
#
# How to read it
# --------------
# Read every number against the controls. A check that the edge map (which ignores the model)
# passes well measures the image rather than the model; a method that does not beat the random
# map on a check says nothing there. Four images give intervals too wide to rank methods that are
# close; the [metrics and sanity checks page](../../sanity.md#one-report-superexplain-evaluate)
# shows the same report on eight images.
#
# The report folder can be read back without re-running anything:

again = superexplain.evaluation.EvaluationReport.load(report_folder)
print("methods:", again.data["methods"], "| images:", again.data["settings"]["images"])
print("seconds spent per check:", {name: round(value, 1) for name, value in
                                   again.data["settings"]["seconds"]["checks"].items()})
