"""`superexplain superpixels`: the superpixel-tuning grid of one image, to a PNG."""
from __future__ import annotations

import argparse
import os

import numpy as np

from .. import image_files as _io
from ._common import parse_list, save_figure, wrap
from ._methods import SEGMENT_ALGORITHMS

EXAMPLES = """\
examples:
  superexplain superpixels cat.jpg
  superexplain superpixels cat.jpg --n-superpixels 25,50,100 --weight 5,10,20 --out grid.png
  superexplain superpixels cat.jpg --method quickshift --n-superpixels 1 --weight 1

Pick the setting whose segments follow the object's parts, then pass it to
`superexplain explain ... --method lime --n-segments N --compactness W`.
"""

def add_parser(subparsers, common, model_input, formatter_class) -> None:
    parser = subparsers.add_parser(
        "superpixels", parents=[common], formatter_class=formatter_class, epilog=EXAMPLES,
        help="draw a superpixel-tuning grid (segment count x compactness) for one image",
        description=wrap(
            "One panel per (number of superpixels, weight) combination, titled with the settings and "
            "the number of segments actually produced. weight is SLIC's compactness, as in R lime. "
            "No model is needed."))
    parser.add_argument("image", metavar="IMAGE", help="an image file")
    parser.add_argument("--n-superpixels", default="25,50,100", metavar="LIST",
                        help="comma-separated numbers of superpixels asked for")
    parser.add_argument("--weight", default="5,10,20", metavar="LIST",
                        help="comma-separated compactness values (SLIC's trade-off between colour and space)")
    parser.add_argument("--method", default="slic", choices=SEGMENT_ALGORITHMS, help="segmentation algorithm")
    parser.add_argument("--size", metavar="HxW", help="resize the image first (e.g. to the model's input size)")
    parser.add_argument("--out", metavar="FILE", help="PNG to write (default: IMAGE_superpixels.png in the current directory)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, summary) -> None:
    import superexplain

    n_superpixels = parse_list(args.n_superpixels, int, "--n-superpixels")
    weights = parse_list(args.weight, float, "--weight")
    if not os.path.isfile(args.image):
        raise FileNotFoundError(f"image {args.image!r} does not exist")
    size = _io.parse_size(args.size) if args.size else None
    pixels = _io.read_image(args.image, channels=3, size=size)
    stem = os.path.splitext(os.path.basename(args.image))[0]
    out = args.out or f"{stem}_superpixels.png"
    with summary.timed("segment_and_plot"):
        figure = superexplain.plot_superpixels_grid(pixels.astype(np.float32) / 255.0, n_superpixels=n_superpixels,
                                                    weight=weights, method=args.method)
    with summary.timed("write"):
        save_figure(figure, out)
    summary.data.update(image=args.image, method=args.method, n_superpixels=n_superpixels, weight=weights)
    summary.file(out, "superpixel grid")

