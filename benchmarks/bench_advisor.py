"""The layer advisor's cost: ranking 8 layers against its floor (one Grad-CAM plus the curves' forward passes).

``rank_layers`` computes every candidate's Grad-CAM in one compiled pass and then runs one insertion
curve (its default metric) per candidate and image. Its floor is what no advisor can avoid: the curves themselves
(timed here on the same maps, precomputed) plus one Grad-CAM at one layer. The naive alternative
is one ``explain`` call per layer followed by the same curves. Goal: rank / floor <= 1.5.
"""
from __future__ import annotations

import time

from ._common import best_time, table

DEMO_LAYERS = ["conv1", "relu1", "pool1", "relu2", "pool2", "relu3", "pool3", "last_conv"]


def _case(name: str, model, images, layers: list, repeat: int) -> list:
    import superexplain
    from superexplain.advisor import rank_layers
    from superexplain.metrics import insertion

    start = time.perf_counter()
    ranking = rank_layers(model, images, candidates=layers)  # the first call compiles the one-pass graph
    cold = time.perf_counter() - start
    maps = ranking.explanations

    def curves():
        for layer in layers:
            insertion(model, images, maps[layer], score="logit", random_state=0)

    def one_gradcam():
        superexplain.explain(model, images, method="gradcam", layer=layers[-1], verbose=0)

    def naive():
        for layer in layers:
            explanations = superexplain.explain(model, images, method="gradcam", layer=layer, verbose=0)
            insertion(model, images, explanations, score="logit", random_state=0)

    rank = best_time(lambda: rank_layers(model, images, candidates=layers), repeat=repeat, warmup=0)
    floor = best_time(curves, repeat=repeat, warmup=0) + best_time(one_gradcam, repeat=repeat, warmup=1)
    naive_time = best_time(naive, repeat=repeat, warmup=1)
    return [name, len(layers), len(images), cold, rank, floor, rank / floor, naive_time / rank]


def run(quick: bool = False) -> str:
    from superexplain.datasets import load_demo_model, make_shapes

    from ._common import mobilenet_astronaut

    repeat = 1 if quick else 3
    rows = [_case("demo CNN 64x64", load_demo_model(), make_shapes(4 if quick else 16, seed=3).images,
                  DEMO_LAYERS, repeat)]
    if not quick:
        from superexplain.gradcam.layer_candidates import default_candidates

        model, image = mobilenet_astronaut()
        layers = [c.name for c in default_candidates(model)][-8:]
        rows.append(_case("MobileNetV2 224x224 (weights=None)", model, image[None], layers, 2))
    return (
        "## Layer advisor: ranking 8 layers vs its floor\n\n"
        "`rank_layers(model, images, candidates=8 layers)` (Grad-CAM, insertion AUC of the logit, 65 steps): "
        "every candidate's map from one compiled pass, then one insertion curve per candidate and image. "
        "Floor = the same 8 insertion curves on precomputed maps + one Grad-CAM at one layer. Naive = 8 "
        "`explain(..., layer=L)` calls, each followed by its curves. Best of 3 after a warm-up (the "
        "cold column is the first call, compiling the graph). Goal: rank / floor <= 1.5.\n\n"
        + table(["model", "layers", "images", "first call s", "rank s", "floor s", "rank / floor",
                 "naive / rank"], rows) + "\n"
    )
