"""The images the container tests run: the project's (the Dockerfile's api and web targets) and
the public images they stand on (the Python base, PostgreSQL), pulled or else stood in for.

Every image is tagged with a digest of what it is built from, so that a later run finds it and
skips the build while its inputs are unchanged.

Public images: where `pull` fails (no registry can be reached), a stand-in is built under the
same name from Debian bookworm (tests/containers/standins/), and the run says so.

The project's images are built from a copy of the build context (what .dockerignore admits), so
that files edited during a build cannot mix two versions into one image. With podman, their pip
installs from a wheelhouse made on this machine by its own pip, mounted into the build: the images'
pip then needs no network. The mount is given only to the stages that install (`api-env`,
`web-env`); the final images are then built without it, from podman's layer cache, so that they
carry no trace of it. Docker's `build` cannot mount folders: there, pip reaches its index itself.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import yaml

from tests.containers.engine import Engine, cache_dir
from tests.support.deploy import COMPOSE_FILE, DOCKERFILE, ENV_EXAMPLE, REPO_ROOT, parse_dockerfile

STANDINS = Path(__file__).parent / "standins"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# Marks a stand-in, so that a later run tells it from a pulled image of the same name.
STANDIN_LABEL = "org.digit-knower.stand-in"
# Where the wheelhouse and a pip.conf naming it appear inside a podman build's RUN steps.
WHEELHOUSE_IN_BUILD = "/opt/digit-knower-wheelhouse"
SERVING_TARGETS = ("api", "web")

Note = Callable[[str], None]


def python_base() -> str:
    """The Python image the Dockerfile builds on (its first FROM)."""
    first_stage = next(iter(parse_dockerfile(DOCKERFILE.read_text()).values()))
    return first_stage[0].args.split()[0]


def postgres_image() -> str:
    """The PostgreSQL image docker-compose.yml runs."""
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]["db"]["image"]


def example_setting(name: str) -> str:
    """A value from .env.example (e.g. DIGIT_KNOWER_IMAGE)."""
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise AssertionError(f".env.example sets no {name}")


def digest(*parts: bytes | str) -> str:
    """A short, stable digest of the parts (in order): the tag of what they build."""
    sha = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        sha.update(len(data).to_bytes(8, "big") + data)
    return sha.hexdigest()[:16]


def folder_digest(folder: Path) -> str:
    """A digest of every file under `folder`: relative paths, contents and executable bits."""
    parts: list[bytes | str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts += [path.relative_to(folder).as_posix(), str(path.stat().st_mode & 0o111), path.read_bytes()]
    return digest(*parts)


@dataclass(frozen=True)
class Base:
    """A public image the tests use, and whether it is the real one or a stand-in."""

    name: str
    image_id: str
    standin: bool

    def described(self) -> str:
        return f"{self.name} (stand-in)" if self.standin else self.name


# ---- public images: pulled, or stood in for ----


def qualified(name: str) -> str:
    """`name` as Docker reads a short name: postgres:15 is docker.io/library/postgres:15. podman
    would try other registries (localhost first) for a short name."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}" if rest else f"docker.io/library/{name}"


def public_image(engine: Engine, short_name: str, standin: str, note: Note) -> Base:
    """`short_name`, pulled; where that fails, a stand-in built from standins/<standin> under that name."""
    name = qualified(short_name)
    why = engine.pull(name)
    if why is None:
        return Base(name, engine.image(name)["Id"], standin=False)
    present = engine.image(name)
    if present is not None and STANDIN_LABEL not in (present.get("Config", {}).get("Labels") or {}):
        note(f"{name} could not be pulled ({why}); using the copy pulled earlier")
        return Base(name, present["Id"], standin=False)
    started = time.monotonic()
    image_id, built = build_standin(engine, standin, tag=name)
    how = f"built in {time.monotonic() - started:.0f} s" if built else "built earlier from the same inputs"
    note(f"{name} could not be pulled ({why}): using a stand-in ({how}), {STANDINS.name}/{standin}")
    return Base(name, image_id, standin=True)


def build_standin(engine: Engine, which: str, *, tag: str) -> tuple[str, bool]:
    """The stand-in built from standins/<which>/Containerfile on the Debian base, tagged `tag`:
    its image id, and whether it was built now (else found, built from the same inputs)."""
    debian = debian_base(engine)
    folder = STANDINS / which
    own_tag = f"localhost/digit-knower-standin-{which}:{digest(debian, folder_digest(folder))}"
    built = engine.image(own_tag) is None
    if built:
        engine.build(
            folder, tag=own_tag, args=["--build-arg", f"BASE={debian}", "--label", f"{STANDIN_LABEL}={which}"]
        )
    engine.run("tag", own_tag, tag)
    return engine.image(own_tag)["Id"], built


def debian_base(engine: Engine) -> str:
    """Debian bookworm (minbase), bootstrapped from Debian's mirror: standins/debian/bootstrap.sh."""
    script = STANDINS / "debian" / "bootstrap.sh"
    tag = f"localhost/digit-knower-standin-debian:{digest(script.read_bytes(), DEBIAN_MIRROR)}"
    if engine.image(tag) is not None:
        return tag
    if shutil.which("debootstrap") is None:
        raise AssertionError(
            "debootstrap is needed to build the stand-in images: apt-get install debootstrap"
        )
    with tempfile.TemporaryDirectory(prefix="dk-debian-") as folder:
        rootfs = Path(folder) / "rootfs.tar"
        log = Path(folder) / "debootstrap.log"
        with rootfs.open("wb") as out, log.open("wb") as err:
            done = subprocess.run(["bash", str(script), DEBIAN_MIRROR], stdout=out, stderr=err)
        assert done.returncode == 0, f"{script} failed:\n{log.read_text(errors='replace')[-4000:]}"
        engine.run("import", "--change", 'CMD ["bash"]', str(rootfs), tag)
    return tag


# ---- the project's images ----


@dataclass(frozen=True)
class AppImages:
    """The project's images, tagged as compose names them: DIGIT_KNOWER_IMAGE-TARGET:tag."""

    tag: str
    base: Base

    def ref(self, target: str) -> str:
        return f"{example_setting('DIGIT_KNOWER_IMAGE')}-{target}:{self.tag}"


def app_images(engine: Engine, base: Base, note: Note) -> AppImages:
    """The api and web targets, built from this checkout on `base` (or found, built earlier)."""
    with tempfile.TemporaryDirectory(prefix="dk-context-") as folder:
        context = copy_build_context(Path(folder))
        wheelhouse = ensure_wheelhouse() if engine.can_mount_into_builds else None
        inputs = [folder_digest(context), base.image_id, engine.name]
        images = AppImages(f"test-{digest(*inputs, wheelhouse.name if wheelhouse else '')}", base)
        missing = [target for target in SERVING_TARGETS if engine.image(images.ref(target)) is None]
        if not missing:
            refs = ", ".join(images.ref(t) for t in SERVING_TARGETS)
            note(f"images {refs}: built earlier from the same inputs")
            return images
        started = time.monotonic()
        if wheelhouse is not None:
            mounts = [
                *("--volume", f"{wheelhouse}:{WHEELHOUSE_IN_BUILD}:ro"),
                *("--volume", f"{wheelhouse / 'pip.conf'}:/etc/pip.conf:ro"),
            ]
            for target in missing:
                engine.build(context, target=f"{target}-env", args=mounts)
        for target in missing:
            engine.build(context, target=target, tag=images.ref(target))
        note(f"built {', '.join(images.ref(t) for t in missing)} in {time.monotonic() - started:.0f} s")
        remove_superseded(engine, images)
        return images


def remove_superseded(engine: Engine, images: AppImages) -> None:
    """Removes the tests' earlier builds of the project's images (other `test-` tags) and the
    layers only they used: each change to the sources would otherwise keep about 1 GB more."""
    current = {images.ref(target) for target in SERVING_TARGETS}
    prefixes = tuple(f"{images.ref(target).split(':')[0]}:test-" for target in SERVING_TARGETS)
    listed = engine.run("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    # podman names them localhost/NAME:TAG, Docker NAME:TAG.
    older = [ref for ref in listed if ref.removeprefix("localhost/").startswith(prefixes)]
    older = [ref for ref in older if ref.removeprefix("localhost/") not in current]
    if older:
        engine.run("rmi", *older, check=False)  # one still in use (another session's) stays
    engine.run("image", "prune", "--force", check=False)


def copy_build_context(dest: Path) -> Path:
    """The Dockerfile and what .dockerignore admits (an allow-list: `*`, then `!path` lines),
    less what its other lines leave out, copied into `dest`."""
    patterns = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert patterns[0] == "*", ".dockerignore is no longer an allow-list: teach copy_build_context"
    admitted = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    left_out = [p.removeprefix("**/") for p in patterns[1:] if not p.startswith("!")]
    for name in ("Dockerfile", ".dockerignore", *admitted):
        source = REPO_ROOT / name
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for file in files:
            relative = file.relative_to(REPO_ROOT)
            if any(fnmatch(part, pattern) for part in relative.parts for pattern in left_out):
                continue
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, dest / relative)
    return dest


def image_requirements() -> list[str]:
    """What the serving images' pip installs: the build backend, the dependencies, the web extra."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return [
        *project["build-system"]["requires"],
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["web"],
    ]


def ensure_wheelhouse() -> Path:
    """Wheels of everything `image_requirements` needs, made by this machine's pip from its own
    package sources, once per set of requirements; beside them a pip.conf that installs from
    them alone."""
    requirements = image_requirements()
    wheelhouse = cache_dir() / "wheelhouse" / digest(*requirements)
    if (wheelhouse / "pip.conf").exists():
        return wheelhouse
    wheelhouse.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="partial-", dir=wheelhouse.parent))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(partial), *requirements],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        shutil.rmtree(partial)
        raise AssertionError(f"pip wheel of the images' requirements failed:\n{done.stdout}{done.stderr}")
    (partial / "pip.conf").write_text(f"[global]\nno-index = true\nfind-links = {WHEELHOUSE_IN_BUILD}\n")
    partial.rename(wheelhouse)
    return wheelhouse


def size_bytes(engine: Engine, ref: str) -> int:
    return int(engine.image(ref)["Size"])
