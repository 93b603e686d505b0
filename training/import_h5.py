"""Bring a model the tutorial trained into the registry.

    python -m training.import_h5 checkpoints/base-model/checkpoint.hdf5 \\
        --data-dir data/tweets-split

Reads the tutorial's HDF5 model file (``training.model.tutorial_h5``: its layers, its
98-character vocabulary, which is this project's default), rebuilds it as this
project's model with the same weights, records it as an MLflow run (kind
``import``, the source file among its artifacts), scores it on ``test.txt``
beside the champion, and registers it as a version of ``tweetbot-charrnn``
tagged with the file's name and SHA-256. Like any new version it is a
``candidate``; it becomes ``champion`` only through the same gate as a night's
model (``training.tracking.registry``: by default, the lower bound of its gain
over the champion must clear the margin). Importing
the same file again finds the version it made and changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

from training.core.config import PROMOTION_MARGIN
from training.core.errors import InputError
from training.core.records import Registration
from training.data import storage
from training.data.splits import TEST, inspect_split, split_path
from training.data.vocab import Vocabulary
from training.model.checkpoints import BEST_FILENAME
from training.tracking import registry, runs, tags


def import_model(path: Path, data_location: str, margin: float = PROMOTION_MARGIN,
                 rule: str = registry.BOUND) -> Registration:
    """Import ``path``, test it on ``data_location``'s test split, register it;
    it becomes champion by beating the champion's test loss by ``margin``
    (by ``rule``)."""
    from training.model import tutorial_h5

    path = Path(path)
    legacy = tutorial_h5.read(path)  # refuses a wrong file before anything is written
    data_dir = storage.local_splits(data_location, names=(TEST,))
    inspect_split(split_path(data_dir, TEST), Vocabulary.default())
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    done = registry.version_with_tag(tags.SOURCE_SHA256, sha256)
    if done is not None:
        return Registration(run_id=done.run_id, version=int(done.version),
                            champion=registry.is_champion(done),
                            test_loss=float(done.tags[tags.TEST_LOSS]),
                            verdict=f"{path.name} was imported before, as v{done.version}")
    source = {tags.SOURCE_FILE: path.name, tags.SOURCE_SHA256: sha256,
              tags.SOURCE_FORMAT: f"Keras HDF5 (Keras {legacy.keras_version or 'unknown'})"}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        tutorial_h5.to_training_model(legacy).save(folder / BEST_FILENAME)
        Vocabulary.default().save(folder)
        with runs.training_run(None, f"import-{path.stem}",
                               {tags.KIND: tags.IMPORT, **source}) as run:
            run.log_params({**legacy.hyperparams().to_dict(),
                            "vocab_size": legacy.vocab_size,
                            "recurrent_activation": legacy.recurrent_activation})
            run.log_files([("checkpoint", folder / BEST_FILENAME),
                           ("checkpoint", folder / "vocab.json"), ("source", path)])
            model_uri = run.log_model_once(folder)
    from training.pipeline.evaluation import evaluate  # TensorFlow was loaded already

    evaluation = evaluate(run.run_id, data_dir, data_location)
    return registry.register_evaluated(run.run_id, model_uri, evaluation, source, margin,
                                       rule=rule)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.import_h5",
        description="Register a model the tutorial saved as HDF5 (.h5/.hdf5), after "
                    "testing it on the test split.")
    parser.add_argument("model", type=Path, help="the tutorial's model file")
    parser.add_argument("--data-dir", required=True,
                        help="folder or s3:// prefix with test.txt, the split every "
                             "version is compared on")
    parser.add_argument("--promotion-margin", type=float, default=PROMOTION_MARGIN,
                        help=f"becomes champion only with a test loss this fraction below "
                             f"the champion's (default: {PROMOTION_MARGIN})")
    parser.add_argument("--promotion-rule", choices=(registry.BOUND, registry.POINT),
                        default=registry.BOUND,
                        help="bound: the gain's 95 %% lower bound must clear the margin "
                             "(default); point: the gain itself")
    args = parser.parse_args(argv)
    try:
        if not 0 <= args.promotion_margin < 1:
            raise InputError(f"--promotion-margin {args.promotion_margin}: expected a "
                             f"fraction in [0, 1)")
        result = import_model(args.model, args.data_dir, args.promotion_margin,
                              args.promotion_rule)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.model}: test_loss {result.test_loss:.4f}; {result.verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
