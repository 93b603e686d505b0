"""The GPU check: the project's model trained on a GPU under Keras' JAX backend,
beside PyTorch's own cuDNN LSTM at the same shapes.

The GPU machine lent for checks has Python 3.12, JAX and PyTorch with CUDA, and no
TensorFlow, Keras or pydantic; a run there brings at most 64 MiB of files. So:

    .venv/bin/python -m benchmarks.gpu_check wheels      # here: the wheels it lacks
    python3 benchmarks/gpu_check.py run --wheels .tweetbot/gpu-wheels --out $OUT/gpu_check.json

``wheels`` downloads, for CPython 3.12 on x86-64 Linux, the versions the lock pins of
Keras, pydantic and what they need beyond NumPy and ml_dtypes (which JAX brings
there), into ``.tweetbot/gpu-wheels`` (about 10 MiB). ``run`` unpacks them into a
temporary folder (nothing else touched), then in a fresh process
with ``KERAS_BACKEND=jax`` measures training characters per second of the
project's model (``build_training_model`` and ``compile_model``, ``train_on_batch``
on one batch of random ids) and of ``torch.nn.LSTM`` with the same embedding, layer
and logits (cuDNN on a GPU), at the tutorial's shapes (1 x 512, batch 128 x seq 32)
and at a GPU-sized batch (1 x 1024, batch 512 x seq 64). On a GPU the project's
LSTM is built with ``use_cudnn=True``: a layer the cuDNN kernel refuses is reported
in the row, not silently measured on the generic kernel. Without ``--wheels`` it
uses this interpreter's packages: that is how it runs on a CPU here (``--quick``:
small shapes, few steps). ``python -m benchmarks.run --sections`` renders
``benchmarks/gpu_check.json`` into ``RESULTS.md``.

On a machine with the project's own environment (the trainer image: TensorFlow),
``python -m benchmarks.gpu_check measure`` measures on whatever ``KERAS_BACKEND``
says, TensorFlow by default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEELS = REPO / ".tweetbot" / "gpu-wheels"
RESULT = REPO / "benchmarks" / "gpu_check.json"
# What the project's model needs beyond NumPy and ml_dtypes (JAX's own dependencies
# there, which a second copy would shadow): Keras and pydantic, and theirs.
PACKAGES = ("keras", "absl-py", "h5py", "namex", "optree", "packaging", "rich",
            "markdown-it-py", "mdurl", "pygments", "pydantic", "pydantic-core",
            "annotated-types", "typing-extensions", "typing-inspection")
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
SHAPES = {
    "tutorial": {"batch_size": 128, "seq_len": 32, "rnn_size": 512},
    "gpu": {"batch_size": 512, "seq_len": 64, "rnn_size": 1024},
}
QUICK_SHAPES = {"tiny": {"batch_size": 8, "seq_len": 16, "rnn_size": 32}}
EMBEDDING, VOCAB, DROP_RATE = 64, 98, 0.05  # the tutorial's, and the default vocabulary


def locked_versions() -> dict[str, str]:
    """The lock's version of each of ``PACKAGES`` (uv's export of the train extra)."""
    uv = REPO / ".tools" / "bin" / "uv"
    exported = subprocess.run(
        [str(uv), "export", "--frozen", "--no-hashes", "--no-header", "--extra", "train",
         "--no-emit-project"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    pins = {}
    for line in exported.splitlines():
        requirement = line.split(";")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==")
            pins[name.strip().lower()] = version.strip()
    missing = [name for name in PACKAGES if name not in pins]
    if missing:
        raise SystemExit(f"error: uv.lock pins no {', '.join(missing)}")
    return {name: pins[name] for name in PACKAGES}


def build_wheels(folder: Path, python: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.whl"):
        old.unlink()
    platforms = [arg for name in PLATFORMS for arg in ("--platform", name)]
    # The project's environment has no pip (uv made it); the one uv lives in has.
    subprocess.run([str(REPO / ".tools" / "bin" / "python"), "-m", "pip", "download",
                    "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--only-binary=:all:", "--python-version", python,
                    "--implementation", "cp", *platforms, "--dest", str(folder),
                    *(f"{name}=={version}" for name, version in locked_versions().items())],
                   check=True)
    size = sum(w.stat().st_size for w in folder.glob("*.whl"))
    print(f"{len(list(folder.glob('*.whl')))} wheels, {size / 2**20:.1f} MiB, in {folder}")
    return folder


# --- there: measure ----------------------------------------------------------------

def chars_per_second(step, batch_size: int, seq_len: int, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size * seq_len / (time.perf_counter() - started)


def accelerator() -> str | None:
    """The GPU Keras' backend trains on, if any."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        return device.device_kind if device.platform == "gpu" else None
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else None


def ours(shape: dict, steps: int, warmup: int) -> dict:
    """The project's model on Keras' backend, as ``training.model.fit`` trains it.
    On a GPU its LSTM is built with ``use_cudnn=True``, so that the number is the
    cuDNN kernel's; where that kernel refuses, the generic one's, and why."""
    if accelerator() is None:
        return _ours(shape, steps, warmup, use_cudnn="auto") | {"cudnn": False}
    try:
        return _ours(shape, steps, warmup, use_cudnn=True) | {"cudnn": True}
    except Exception as error:  # noqa: BLE001 - reported in the row, then the generic kernel
        return _ours(shape, steps, warmup, use_cudnn="auto") | {
            "cudnn": False, "cudnn_refused": str(error).strip().splitlines()[0][:300]}


def _ours(shape: dict, steps: int, warmup: int, use_cudnn: bool | str) -> dict:
    import keras
    import numpy as np

    from training.core.config import HyperParams
    from training.model.fit import compile_model
    from training.model.network import build_training_model, check_training_backend

    params = HyperParams(batch_size=shape["batch_size"], seq_len=shape["seq_len"],
                         embedding_size=EMBEDDING, rnn_size=shape["rnn_size"],
                         num_layers=1, drop_rate=DROP_RATE)
    model = build_training_model(params, VOCAB, use_cudnn=use_cudnn)
    compile_model(model, params)
    rng = np.random.default_rng(0)
    x, y = (rng.integers(1, VOCAB, size=(params.batch_size, params.seq_len), dtype=np.int32)
            for _ in range(2))

    def step():
        # The loss as a Python float: the step has finished on the device.
        float(model.train_on_batch(x, y))

    return {"backend": check_training_backend(), "keras": keras.__version__,
            "chars_per_second": chars_per_second(step, params.batch_size, params.seq_len,
                                                 steps, warmup)}


def pytorch(shape: dict, steps: int, warmup: int) -> dict | None:
    """``torch.nn.LSTM`` (cuDNN on a GPU) with the same layers, loss and optimizer."""
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batch, seq, units = shape["batch_size"], shape["seq_len"], shape["rnn_size"]

    class CharLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBEDDING)
            self.dropout = torch.nn.Dropout(DROP_RATE)
            self.lstm = torch.nn.LSTM(EMBEDDING, units, batch_first=True)
            self.logits = torch.nn.Linear(units, VOCAB)

        def forward(self, ids, state):
            out, state = self.lstm(self.dropout(self.embedding(ids)), state)
            return self.logits(self.dropout(out)), state

    model = CharLSTM().to(device)
    # Keras' RMSprop: rho 0.9 (PyTorch's alpha), the tutorial's rate and clipping.
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9)
    generator = torch.Generator().manual_seed(0)
    x, y = (torch.randint(1, VOCAB, (batch, seq), generator=generator).to(device)
            for _ in range(2))
    state = None

    def step():
        nonlocal state
        optimizer.zero_grad()
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)  # stateful, as ours: carried, not trained through
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        loss.item()  # waits for the device

    return {"torch": torch.__version__, "device": device,
            "cudnn": device == "cuda" and torch.backends.cudnn.is_available(),
            "chars_per_second": chars_per_second(step, batch, seq, steps, warmup)}


def device_name() -> str:
    import keras

    backend = keras.backend.backend()
    version = __import__(backend).__version__
    return f"{accelerator() or 'cpu'} (Keras {keras.__version__} on {backend} {version})"


def measure(args) -> dict:
    shapes = QUICK_SHAPES if args.quick else SHAPES
    steps, warmup = (5, 2) if args.quick else (args.steps, args.warmup)
    rows = []
    for name, shape in shapes.items():
        row = {"shape": name, **shape, "embedding_size": EMBEDDING,
               "ours": ours(shape, steps, warmup), "pytorch": pytorch(shape, steps, warmup)}
        if row["pytorch"]:
            row["ratio"] = row["pytorch"]["chars_per_second"] / row["ours"]["chars_per_second"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return {"device": device_name(), "python": platform.python_version(),
            "steps": steps, "warmup": warmup, "rows": rows,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def run(args) -> int:
    """Install the wheels into a temporary folder, then measure in a fresh process
    that sees them (and the project) first, on Keras' JAX backend."""
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as target:
        path = [str(REPO)]
        if args.wheels:
            wheels = sorted(str(w) for w in Path(args.wheels).glob("*.whl"))
            if not wheels:
                raise SystemExit(f"error: --wheels {args.wheels}: no wheels there")
            # A wheel is a zip of what it installs; unpacked side by side they
            # import (no pip needed there, and nothing outside the folder touched).
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive:
                    archive.extractall(target)
            path.insert(0, target)
        env = {**os.environ, "KERAS_BACKEND": "jax",
               "PYTHONPATH": os.pathsep.join([*path, os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "benchmarks.gpu_check", "measure",
                   "--out", str(args.out), "--steps", str(args.steps),
                   "--warmup", str(args.warmup), *(["--quick"] if args.quick else [])]
        return subprocess.run(command, cwd=REPO, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    wheels = commands.add_parser("wheels", help="here: the cp312 wheels the GPU machine lacks")
    wheels.add_argument("--dest", type=Path, default=WHEELS)
    wheels.add_argument("--python", default="3.12", help="the Python version there")
    for name in ("run", "measure"):
        command = commands.add_parser(name, help=(
            "install --wheels into a temporary folder, then measure" if name == "run"
            else "measure with this interpreter's packages (what run starts)"))
        command.add_argument("--out", type=Path, default=RESULT, help="the JSON written")
        command.add_argument("--steps", type=int, default=100)
        command.add_argument("--warmup", type=int, default=10)
        command.add_argument("--quick", action="store_true",
                             help="small shapes and few steps: the CPU path")
        if name == "run":
            command.add_argument("--wheels", type=Path,
                                 help="the folder `wheels` made (default: none, this "
                                      "interpreter's packages)")
    args = parser.parse_args(argv)
    if args.command == "wheels":
        build_wheels(args.dest, args.python)
        return 0
    if args.command == "run":
        return run(args)
    result = measure(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
