"""The SAM CLI on the real template: `sam validate --lint` and `sam build` (arm64 / Python 3.13).

Needs the SAM CLI (on PATH, or .venv-sam/bin/sam from `make setup`) and, for the build, PyPI (pip
downloads the aarch64 wheels of requirements.txt). No Docker and no AWS credentials.

The build runs in a temporary copy of the files it needs (template.yaml, Makefile, requirements.txt,
shared/, functions/), so it neither writes .aws-sam/ into the repo nor sees virtualenvs; a function
folder or library still missing from the repo gets a throwaway stub in that copy only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support import REPO_ROOT, require

pytestmark = pytest.mark.integration

BUILD_TIMEOUT = 600  # seconds; about 10 s on a 2-core box with a warm network
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + layers, unzipped


def sam_executable() -> str:
    found = shutil.which("sam") or next(
        (str(p) for p in [REPO_ROOT / ".venv-sam" / "bin" / "sam"] if p.exists()), None
    )
    require("the SAM CLI", found is None, "run `make setup`, or put sam on PATH")
    return found


def sam(*args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "SAM_CLI_CONTAINER_CONNECTION_TIMEOUT": "1"}
    return subprocess.run([sam_executable(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def function_code_dirs(template_path: Path) -> list[str]:
    template = yaml.load(template_path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    return [
        r["Properties"]["CodeUri"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]


def test_sam_validate_lint() -> None:
    started = time.monotonic()
    result = sam("validate", "--lint", "--template", str(REPO_ROOT / "template.yaml"), cwd=REPO_ROOT, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"sam validate --lint failed ({elapsed:.1f} s):\n{result.stdout}\n{result.stderr}"
    assert "is a valid SAM Template" in result.stdout + result.stderr
    print(f"sam validate --lint: {elapsed:.1f} s")


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of a copy of the project; returns the build directory."""
    sam_executable()
    project = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("template.yaml", "Makefile", "requirements.txt"):
        shutil.copy2(REPO_ROOT / name, project / name)
    for name in ("shared", "functions"):
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, project / name, ignore=ignore)
    # Throwaway stubs for code not written yet, in the copy only.
    package = project / "shared" / "ciohooks"
    if not (package / "__init__.py").exists():
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text('"""stub made by tests/integration/test_sam.py"""\n')
    for code_dir in function_code_dirs(project / "template.yaml"):
        app = project / code_dir / "app.py"
        if not app.exists():
            app.parent.mkdir(parents=True, exist_ok=True)
            app.write_text("def lambda_handler(event, context):  # stub made by tests/integration/test_sam.py\n    return {}\n")

    build_dir = tmp_path_factory.mktemp("build") / "sam"
    started = time.monotonic()
    result = sam("build", "--template", str(project / "template.yaml"), "--build-dir", str(build_dir), cwd=project, timeout=BUILD_TIMEOUT)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"sam build failed ({elapsed:.1f} s):\n{result.stdout}\n{result.stderr}"
    print(f"sam build: {elapsed:.1f} s")
    return build_dir


def test_layer_holds_the_library_and_aarch64_cp313_dependencies(sam_build: Path) -> None:
    python = sam_build / "CioHooksLayer" / "python"
    assert (python / "ciohooks" / "__init__.py").is_file()
    assert list((python / "pydantic_core").glob("*cpython-313-aarch64*.so")), "pydantic_core is not the cp313 aarch64 build"
    assert not (python / "python").exists(), "layer code nested under python/python/"
    assert not list((python / "ciohooks").rglob("__pycache__"))
    wrong = [p for p in python.rglob("*.so") if "x86_64" in p.name or "cpython-311" in p.name or "cpython-312" in p.name]
    assert not wrong, f"native modules for another platform: {wrong[:5]}"
    if (REPO_ROOT / "shared" / "ciohooks" / "specs").is_dir():
        assert list((python / "ciohooks" / "specs").glob("*.json")), "package data (specs) missing from the layer"


def test_functions_hold_their_own_files_only(sam_build: Path) -> None:
    layer_size = sum(p.stat().st_size for p in (sam_build / "CioHooksLayer").rglob("*") if p.is_file())
    built = yaml.load((sam_build / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    functions = [n for n, r in built["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    assert functions
    for name in functions:
        code = sam_build / name
        assert (code / "app.py").is_file(), f"{name} has no app.py"
        assert not (code / "ciohooks").exists() and not (code / "python").exists(), f"{name} bundles the library"
        assert not list(code.rglob("__pycache__"))
        size = sum(p.stat().st_size for p in code.rglob("*") if p.is_file())
        assert size + layer_size < LAMBDA_UNZIPPED_LIMIT, f"{name} + layer exceed Lambda's 250 MB unzipped"


def test_the_three_ingest_functions_ship_the_one_ingest_handler(sam_build: Path) -> None:
    """functions/ingest serves email, video and mobile (CIOHOOKS_FAMILY tells them apart)."""
    handler = (REPO_ROOT / "functions" / "ingest" / "app.py").read_bytes()
    for name in ("EmailIngestFunction", "VideoIngestFunction", "MobileIngestFunction"):
        assert (sam_build / name / "app.py").read_bytes() == handler, name
    built = yaml.load((sam_build / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    assert {"EmailIngestFunction", "VideoIngestFunction", "MobileIngestFunction", "DeliverFunction"} <= set(built["Resources"])
