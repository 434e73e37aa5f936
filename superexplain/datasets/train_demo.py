"""Train the bundled demo CNN on planted-shapes images, reproducibly: ``python -m superexplain.datasets.train_demo``."""
from __future__ import annotations

import argparse
import os
import sys
import time

from .demo_model import DEMO_WEIGHTS_PATH, build_demo_model, save_demo_weights
from .shapes import make_shapes

__all__ = ["train_demo_model"]


def train_demo_model(seed: int = 0, n_train: int = 8000, n_val: int = 1000, epochs: int = 14,
                     batch_size: int = 64, verbose: int = 2):
    """Train the demo model from scratch; returns ``(model, validation_accuracy)``.

    Training is deterministic for a given seed on the CPU (seeded data, seeded initialisers,
    TensorFlow op determinism).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    train = make_shapes(n_train, seed=seed)
    val = make_shapes(n_val, seed=seed + 10_000)
    model = build_demo_model()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, verbose=0)]
    model.fit(train.images, train.labels, validation_data=(val.images, val.labels), epochs=epochs,
              batch_size=batch_size, shuffle=True, verbose=verbose, callbacks=callbacks)
    accuracy = float((model.predict(val.images, verbose=0).argmax(1) == val.labels).mean())
    return model, accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=DEMO_WEIGHTS_PATH, help="where to write the weights (.npz)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--n-train", type=int, default=8000)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model, accuracy = train_demo_model(seed=args.seed, n_train=args.n_train, epochs=args.epochs)
    save_demo_weights(model, args.out)
    sys.stderr.write(f"validation accuracy {accuracy:.4f}; {os.path.getsize(args.out) / 1e6:.2f} MB written to "
                     f"{args.out} in {time.perf_counter() - start:.0f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
