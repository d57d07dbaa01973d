"""Input digest: same inputs, same digest; any input change, a new digest; ignored files don't count."""

import os
import shutil
from pathlib import Path

import pytest

from retail_deploy.build.images import context_files, input_digest


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\nCOPY . /app\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.txt").write_text("v1")
    (tmp_path / ".dockerignore").write_text("# comment\n*.log\nsecret/\n")
    (tmp_path / "debug.log").write_text("noise")
    return tmp_path


def digest(ctx: Path, **kw: object) -> str:
    args = {"version": "1.0", "build_args": None, "extra": (), "exclude": ("target",)}
    args.update(kw)
    return input_digest(str(ctx), str(ctx / "Dockerfile"), **args)  # type: ignore[arg-type]


def test_same_inputs_same_digest(ctx):
    assert digest(ctx) == digest(ctx)
    assert digest(ctx).startswith("sha256:")


def test_source_change_changes_digest(ctx):
    before = digest(ctx)
    (ctx / "src" / "main.txt").write_text("v2")
    assert digest(ctx) != before


def test_new_file_changes_digest(ctx):
    before = digest(ctx)
    (ctx / "src" / "extra.txt").write_text("")
    assert digest(ctx) != before


def test_dockerignored_and_excluded_files_do_not_count(ctx):
    before = digest(ctx)
    (ctx / "debug.log").write_text("other noise")
    (ctx / "secret").mkdir()
    (ctx / "secret" / "key").write_text("k")
    (ctx / "target").mkdir()
    (ctx / "target" / "app.jar").write_text("built")
    assert digest(ctx) == before
    assert context_files(str(ctx), exclude=("target",)) == [".dockerignore", "Dockerfile", "src/main.txt"]


def test_dockerfile_version_args_and_steps_count(ctx):
    base = digest(ctx)
    assert digest(ctx, version="1.1") != base
    assert digest(ctx, build_args={"A": "1"}) != base
    assert digest(ctx, build_args={"A": "1"}) != digest(ctx, build_args={"A": "2"})
    assert digest(ctx, extra=["mvn clean package"]) != base
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\nCOPY . /srv\n")
    assert digest(ctx) != base


def test_executable_bit_counts(ctx):
    before = digest(ctx)
    os.chmod(ctx / "src" / "main.txt", 0o755)
    assert digest(ctx) != before


def test_field_boundaries_cannot_collide(ctx):
    # "a"+"bc" and "ab"+"c" must not hash alike (length-prefixed fields)
    assert digest(ctx, build_args={"a": "bc"}) != digest(ctx, build_args={"ab": "c"})


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "retail-platform"


@pytest.mark.parametrize(("service", "inputs", "outputs"), [
    ("backend", ["pom.xml", ".mvn/jvm.config", "src/main/java/com/example/retail/Backend.java", "HEALTH"],
     ["target/retail-backend.jar", "target/classes/com/example/retail/Backend.class"]),
    ("consumer-web", ["package.json", "package-lock.json", "index.html", "src/cart.js"],
     ["node_modules/vite/package.json", "dist/index.html", "dist/assets/index-abc.js"]),
])
def test_example_digest_covers_maven_and_npm_inputs_not_their_outputs(tmp_path, service, inputs, outputs):
    """What build.all digests for the example services: a changed source rebuilds, what mvn and
    npm produce (target/, node_modules/, dist/) does not, so a second demo run builds nothing."""
    from retail_deploy.build.service import DEFAULT_DIGEST_EXCLUDE

    root = tmp_path / service
    shutil.copytree(EXAMPLE / service, root, ignore=shutil.ignore_patterns("target", "dist", "node_modules"))

    def example_digest() -> str:
        return input_digest(str(root), str(root / "Dockerfile"), version="1.0.0", exclude=DEFAULT_DIGEST_EXCLUDE)

    before = example_digest()
    for output in outputs:
        (root / output).parent.mkdir(parents=True, exist_ok=True)
        (root / output).write_text("built")
    assert example_digest() == before
    for source in inputs:
        original = (root / source).read_bytes()
        (root / source).write_bytes(original + b"\n")
        assert example_digest() != before, source
        (root / source).write_bytes(original)
    assert example_digest() == before
