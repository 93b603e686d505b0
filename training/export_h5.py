"""Write a model as the tutorial's HDF5 file, for serving code that still loads it.

    python -m training.export_h5 champion.h5 --model-uri models:/tweetbot-charrnn@champion
    python -m training.export_h5 base.h5 --checkpoint-dir runs/base

The same sources as ``training.generate``. The file is what the tutorial's
Keras 2 ``model.save`` writes (``training.model.tutorial_h5``): its ``load_model``
gives the tutorial's Sequential model, softmax output included, with this
model's weights. Only a model with the tutorial's vocabulary can be exported:
the tutorial's code maps characters to ids with that fixed table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from training.core.errors import InputError
from training.data.vocab import VOCAB_FILENAME, Vocabulary
from training.model.checkpoints import BEST_FILENAME


def export(checkpoint_dir: Path, path: Path) -> Path:
    """The model in ``checkpoint_dir`` (best.keras and vocab.json) as ``path``."""
    from training.model import tutorial_h5
    from training.model.network import load_trained

    checkpoint_dir = Path(checkpoint_dir)
    model_file = checkpoint_dir / BEST_FILENAME
    if not model_file.is_file():
        raise InputError(f"{model_file}: no trained model there")
    if Vocabulary.load(checkpoint_dir) != Vocabulary.default():
        raise InputError(f"{checkpoint_dir / VOCAB_FILENAME}: not the tutorial's vocabulary, "
                         f"which its code assumes")
    return tutorial_h5.write(tutorial_h5.from_training_model(load_trained(model_file)), path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.export_h5",
        description="Write a model as an HDF5 file the tutorial's Keras 2 code loads.")
    parser.add_argument("output", type=Path, help="the .h5 file to write")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-uri",
                        help="an MLflow model, e.g. models:/tweetbot-charrnn@champion")
    source.add_argument("--checkpoint-dir", type=Path,
                        help="a training checkpoint folder (best.keras + vocab.json)")
    args = parser.parse_args(argv)
    try:
        if args.output.suffix.lower() not in (".h5", ".hdf5"):
            raise InputError(f"{args.output}: name it .h5 or .hdf5, as Keras 2 expects")
        with tempfile.TemporaryDirectory() as scratch:
            if args.model_uri:
                from training.tracking.pyfunc import download_checkpoint

                folder = download_checkpoint(args.model_uri, Path(scratch))
            else:
                folder = args.checkpoint_dir
            written = export(folder, args.output)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
