#!/usr/bin/env bash
# Install llama-cpp-python built for ANY x86-64 CPU with AVX2 — never for the build machine's own CPU.
#
# Why: llama-cpp-python ships only a source package here, and its default build is "native": it
# compiles for the CPU it is built on. Machines of this project's kind differ from one session to
# the next, and on CPUs with AMX (Sapphire Rapids and later) the native build segfaults inside
# llama_decode. We build once with fixed portable flags (AVX2/FMA/F16C; AVX-512 and AMX off; the
# measured speed difference to AVX-512 is ~5 %, see BENCHMARKS.md) and keep the wheel in a cache
# keyed by version + flags, so pip's own cache (keyed by version alone) can never hand us a
# native wheel, and a second install on the same machine takes seconds.
#
# Usage: scripts/install-llama-cpp.sh PIP   (PIP = the venv's pip)
set -euo pipefail
PIP=${1:?usage: install-llama-cpp.sh PIP}
PY="$(dirname "$PIP")/python"
VERSION=0.3.36
FLAGS="-DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=ON"
KEY=$(printf '%s %s' "$VERSION" "$FLAGS" | sha256sum | cut -c1-16)
CACHE="${STACK_ASSISTANT_WHEELS:-$HOME/.cache/stack-assistant/wheels}/llama-cpp-python-$VERSION-$KEY"

installed_ok() {
  # The installed build must be ours: the flags file we leave beside it, and no AVX-512/AMX in the library.
  "$PY" - "$KEY" <<'PY' 2>/dev/null
import sys, pathlib, llama_cpp
marker = pathlib.Path(llama_cpp.__file__).with_name("STACK_ASSISTANT_BUILD")
info = llama_cpp.llama_print_system_info().decode()
ok = marker.is_file() and marker.read_text().strip() == sys.argv[1] and "AMX_INT8 = 1" not in info and "AVX512 = 1" not in info
sys.exit(0 if ok else 1)
PY
}

if installed_ok; then
  echo "llama-cpp-python $VERSION (portable build $KEY) already installed"
  exit 0
fi
if ! ls "$CACHE"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "Building llama-cpp-python $VERSION for any AVX2 x86-64 CPU (6-10 min on 2 cores) ..."
  mkdir -p "$CACHE.tmp"
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PIP" wheel --no-cache-dir --no-deps --no-binary llama-cpp-python -w "$CACHE.tmp" "llama-cpp-python==$VERSION"
  rm -rf "$CACHE" && mv "$CACHE.tmp" "$CACHE"
fi
"$PIP" install -q --force-reinstall --no-deps "$CACHE"/llama_cpp_python-*.whl
"$PIP" install -q "$(ls "$CACHE"/llama_cpp_python-*.whl)[server]"
"$PY" - "$KEY" <<'PY'
import sys, pathlib, llama_cpp
pathlib.Path(llama_cpp.__file__).with_name("STACK_ASSISTANT_BUILD").write_text(sys.argv[1] + "\n")
info = llama_cpp.llama_print_system_info().decode()
print("llama.cpp build:", info.strip())
if "AMX_INT8 = 1" in info or "AVX512 = 1" in info:
    sys.exit("llama-cpp-python was built for this machine's CPU (AVX-512/AMX on); remove the wheel cache and retry")
PY
