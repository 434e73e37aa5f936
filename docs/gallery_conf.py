"""mkdocs-gallery's settings that YAML cannot hold, and the build process's set-up for the examples.

Each example runs in the build's own Python process, one after the other. A figure left open or a
Keras global (the mixed-precision policy, the layer-name counters) would leak into the next one, so
every example starts from matplotlib's defaults, no open figures and a float32 Keras session
(``reset_state``). The rest of this file makes the build process behave like ``python example.py``:
the same environment, the same warnings, and a stderr that Ray can start with.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# before any example imports TensorFlow: its C++ start-up lines would otherwise fill the build log
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# where the generated gallery pages go (mkdocs.yml's gallery_dirs): an example that writes files a
# page links to (the evaluation report) writes them here, so that they are part of the site
os.environ["SUPEREXPLAIN_GALLERY_OUT"] = str(Path(__file__).resolve().parent / "generated" / "gallery")

# MkDocs turns DeprecationWarnings on for the whole build, so TensorFlow's and Keras's own (numpy 2's
# __array__ copy keyword, met when Keras saves a model) would print in the examples' output, where a
# plain `python example.py` shows none; the same filter as the tests' ([tool.pytest.ini_options]).
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"tensorflow(\..*)?$")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"keras(\..*)?$")

# mkdocs-gallery captures an example's output by replacing sys.stdout and sys.stderr with a tee that
# has no fileno(); ray.init() calls faulthandler.enable(), which needs one, and fails inside the
# gallery although the same script runs on its own. Give the tee the real stderr's descriptor
# (where faulthandler would write a crash dump). Build-side only: the examples stay plain scripts.
from mkdocs_gallery import gen_single as _gen_single

if not hasattr(_gen_single._LoggingTee, "fileno"):
    _gen_single._LoggingTee.fileno = lambda self: self.origs[1].fileno()

# absl (TensorFlow's logging) binds its handler to sys.stderr when first imported; imported inside an
# example that is the tee, which absl then tries to close at exit. Imported here, it binds the real one.
import absl.logging  # noqa: F401


def reset_state(gallery_conf, fname, *args):
    """Close figures, restore matplotlib's rc defaults, and reset Keras if an example loaded it."""
    import matplotlib.pyplot as plt

    plt.close("all")
    plt.rcdefaults()
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


conf = {"reset_modules": (reset_state,)}
