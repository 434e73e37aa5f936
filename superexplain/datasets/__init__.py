"""Demo data with known ground truth (planted shapes) and the bundled demo model."""
from .demo_model import DEMO_WEIGHTS_PATH, build_demo_model, load_demo_model
from .random_labels import RandomLabelDemo, default_cache_dir, random_label_demo_model, train_on_labels
from .shapes import CLASS_NAMES, Shapes, make_shapes, texture_names

__all__ = ["CLASS_NAMES", "Shapes", "make_shapes", "texture_names", "load_demo_model", "build_demo_model", "DEMO_WEIGHTS_PATH",
           "train_on_labels", "random_label_demo_model", "RandomLabelDemo", "default_cache_dir"]
