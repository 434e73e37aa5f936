"""Every argument check in one place: images, batches, segments, random state, options (targets: `superexplain.models.targets`).

Public functions call these first, so that bad input fails with a message naming the argument,
what was expected and what came -- never with a traceback from deep inside TensorFlow.
"""
from .images import check_image, check_images, check_segments, shape_of
from .scalars import (check_choice, check_float, check_int, check_random_state, describe, image_random_states,
                      resolve_seed, seeded_rng)

__all__ = ["check_image", "check_images", "shape_of", "check_segments", "check_random_state", "resolve_seed",
           "seeded_rng", "image_random_states", "check_int", "check_float", "check_choice", "describe"]
