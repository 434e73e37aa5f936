"""Demo data with known ground truth (planted shapes) and the bundled demo model."""
from .demo_model import DEMO_MODEL_PATH, load_demo_model
from .shapes import CLASS_NAMES, Shapes, make_shapes, texture_names

__all__ = ["CLASS_NAMES", "Shapes", "make_shapes", "texture_names", "load_demo_model", "DEMO_MODEL_PATH"]
