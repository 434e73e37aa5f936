"""Regenerate docs/gallery/*.png: every plot kind on the demo model's data, superpixel grids on skimage images.

Usage::

    python scripts/make_gallery.py [--out docs/gallery] [--handmade]

Explanations come from ``superexplain.explain(model, image, method="gradcam"/"lime")`` when those
methods are installed. Otherwise (or with ``--handmade``) the script builds hand-made explanations
whose maps follow the planted object's true mask, and says so in their method name, the titles and
the file names (``*_handmade.png``).
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import superexplain  # noqa: E402
from superexplain.datasets import CLASS_NAMES, make_shapes  # noqa: E402
from superexplain.segmentation import segment, segment_means  # noqa: E402

#: The demo images shown (seed and indices picked so that every class appears once).
DATA_SEED = 7
N_IMAGES = 12


def _pick_images(data) -> list[int]:
    picked = []
    for label in range(len(CLASS_NAMES)):
        hits = np.flatnonzero(data.labels == label)
        if hits.size:
            picked.append(int(hits[0]))
    return picked[:3]


def _handmade(image: np.ndarray, mask: np.ndarray, label: int, seed: int) -> tuple:
    """A gradient-like and a LIME-like explanation whose maps follow the true object mask."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    heat = gaussian_filter(mask.astype(np.float64), sigma=3.0)
    heat = heat / heat.max() + 0.05 * rng.random(heat.shape)
    feature_map = heat.reshape(8, 8, 8, 8).mean(axis=(1, 3))
    from skimage.transform import resize

    heatmap = resize(feature_map, mask.shape, order=1, mode="edge")
    gradient = superexplain.Explanation(
        image=image, method="hand-made (mask)", target=label, target_name=CLASS_NAMES[label], score=0.97,
        heatmap=heatmap, feature_map=feature_map, params={"layer": "mask", "score_kind": "probability"})
    segments = segment(image, "slic", n_segments=50, compactness=10)
    inside = segment_means(mask.astype(np.float64), segments)
    weights = inside - 0.2 + 0.05 * rng.normal(size=inside.size)
    perturbation = superexplain.Explanation(
        image=image, method="hand-made (mask) lime-like", target=label, target_name=CLASS_NAMES[label],
        score=0.97, heatmap=weights[segments], segments=segments, weights=weights,
        params={"segmentation": "slic", "n_segments": 50, "score_kind": "probability"})
    return gradient, perturbation


def _explanations(images, masks, labels, handmade: bool) -> tuple[list, list, str]:
    available = set() if handmade else set(superexplain.available_methods())
    if not handmade and {"gradcam", "lime"} <= available:
        from superexplain.datasets import load_demo_model

        # the function, not the module of the same name (importing the module shadows the lazy name)
        from superexplain.explain import explain

        model = load_demo_model()
        gradient = [explain(model, image, method="gradcam", verbose=0) for image in images]
        perturbation = [explain(model, image, method="lime", random_state=0, verbose=0)
                        for image in images]
        return gradient, perturbation, ""
    print("gradcam/lime not available (or --handmade): drawing hand-made explanations that follow the "
          "true object masks; file names end in _handmade")
    pairs = [_handmade(image, mask, int(label), seed) for seed, (image, mask, label)
             in enumerate(zip(images, masks, labels))]
    return [p[0] for p in pairs], [p[1] for p in pairs], "_handmade"


def _save(figure, out: str, name: str, dpi: int = 100, palette: bool = False) -> None:
    """Save a figure; ``palette=True`` stores 256 colours, which keeps large photographs small
    but would band smooth heatmaps and colorbars (so explanation figures keep full colour)."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    image = Image.open(buffer).convert("RGB")
    if palette:
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    path = os.path.join(out, name)
    image.save(path, optimize=True)
    print("wrote", path)


def cam_family(out: str) -> None:
    """docs/gallery/cam_family_demo.png: every CAM of the registry, and Grad-CAM's options, on one demo image."""
    import matplotlib.pyplot as plt

    from superexplain.datasets import load_demo_model
    from superexplain.explain import explain
    from superexplain.registry import METHODS, method_names

    model = load_demo_model()
    data = make_shapes(N_IMAGES, seed=DATA_SEED)
    index = _pick_images(data)[0]
    image, label = data.images[index], int(data.labels[index])
    cases = [(name, {}) for name in method_names("cam")]
    cases += [("gradcam", {"aug_smooth": True}), ("gradcam", {"eigen_smooth": True}),
              ("layercam", {"layer": ["relu2", "last_conv"]})]
    columns = 5
    rows = -(-(len(cases) + 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.9 * rows), layout="constrained")
    axes = axes.ravel()
    axes[0].imshow(image)
    axes[0].set_title(f"image: {CLASS_NAMES[label]}", fontsize=9)
    for ax, (name, options) in zip(axes[1:], cases):
        if METHODS[name].takes_layer and "layer" not in options:
            options = {**options, "layer": "last_conv"}
        explanation = explain(model, image, method=name, target=label, verbose=0, **options)
        superexplain.plot(explanation, kind="heatmap", ax=ax, colorbar=False)
        extra = ", ".join(f"{key}={value}" for key, value in options.items() if key != "layer" or
                          isinstance(value, list))
        ax.set_title(name + (f"\n{extra}" if extra else ""), fontsize=9)
    for ax in axes:
        ax.axis("off")
    figure.suptitle(f"Every CAM on one demo image (target {CLASS_NAMES[label]!r}, layer last_conv)", fontsize=11)
    _save(figure, out, "cam_family_demo.png")
    # Deep Feature Factorization's concepts on three images, one per class
    picked = _pick_images(data)
    figure, axes = plt.subplots(1, len(picked), figsize=(4.2 * len(picked), 4.4), layout="constrained")
    for ax, index in zip(axes, picked):
        found = explain(model, data.images[index], method="feature_factorization", target=int(data.labels[index]),
                        layer="last_conv", n_concepts=4, verbose=0)
        superexplain.plot_concepts(found, ax=ax)
    _save(figure, out, "concepts_demo.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "gallery"))
    parser.add_argument("--handmade", action="store_true", help="use mask-following explanations, no model")
    parser.add_argument("--only-cams", action="store_true", help="draw only the CAM family figure")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.handmade is False:
        cam_family(args.out)
    if args.only_cams:
        return 0
    import matplotlib.pyplot as plt
    import skimage.data

    # superpixel tuning on natural images
    chelsea, coffee = skimage.data.chelsea(), skimage.data.coffee()
    ax = superexplain.plot_superpixels(chelsea, n_superpixels=50, weight=10)
    _save(ax.figure, args.out, "superpixels_chelsea.png", palette=True)
    _save(superexplain.plot_superpixels_grid(chelsea, panel_size=2.6), args.out, "superpixels_grid_chelsea.png",
          palette=True)
    _save(superexplain.plot_superpixels_grid(coffee, n_superpixels=[30, 120], weight=[5, 20], panel_size=2.6),
          args.out, "superpixels_grid_coffee.png", palette=True)
    # felzenszwalb's defaults cut a 400x600 photo into hundreds of pieces; ask for about 50 here
    methods = {"slic": {}, "quickshift": {}, "felzenszwalb": {"scale": 400, "min_size": 800},
               "watershed": {}, "grid": {}}
    figure, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods) * 4 / 3 * 0.75 + 0.5, 3.2),
                                layout="constrained")
    for ax, method in zip(axes, methods):
        superexplain.plot_superpixels(coffee, method=method, ax=ax, **methods[method])
    _save(figure, args.out, "segmentation_methods_coffee.png", palette=True)

    # every kind on the demo data
    data = make_shapes(N_IMAGES, seed=DATA_SEED)
    picked = _pick_images(data)
    images, masks, labels = data.images[picked], data.masks[picked], data.labels[picked]
    gradient, perturbation, suffix = _explanations(images, masks, labels, args.handmade)
    first_g, first_p = gradient[0], perturbation[0]
    figure, axes = plt.subplots(2, 3, figsize=(10.5, 7.4), layout="constrained")
    superexplain.plot(first_g, kind="heatmap", ax=axes[0, 0], colorbar=True)
    superexplain.plot(first_g, kind="block", ax=axes[0, 1], segments=first_p.segments, colorbar=True)
    superexplain.plot(first_g, kind="outline", ax=axes[0, 2], segments=first_p.segments)
    superexplain.plot(first_p, kind="heatmap", ax=axes[1, 0], colorbar=True)
    superexplain.plot(first_p, kind="block", ax=axes[1, 1], show_negative=True, colorbar=True)
    superexplain.plot(first_p, kind="outline", ax=axes[1, 2], show_negative=True)
    for ax, kind in zip(axes[0], ("heatmap", "block", "outline")):
        ax.set_title(f"{kind}\n{ax.get_title()}", fontsize=9)
    _save(figure, args.out, f"kinds_demo{suffix}.png")
    rows = [[g, p] for g, p in zip(gradient, perturbation)]
    _save(superexplain.compare(rows), args.out, f"compare_demo{suffix}.png")
    _save(superexplain.compare([[p] for p in perturbation], kind="outline", show_negative=True),
          args.out, f"outline_demo{suffix}.png")
    big = superexplain.format_as_image(first_g).resize((256, 256), resample=0)
    big.save(os.path.join(args.out, f"format_as_image_demo{suffix}.png"))
    with open(os.path.join(args.out, f"repr_png_demo{suffix}.png"), "wb") as handle:
        handle.write(first_p._repr_png_())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
