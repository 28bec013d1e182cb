#!/usr/bin/env bash
# Install llama-cpp-python built for ANY x86-64 CPU with AVX2 — never for the build machine's own
# CPU — plus an AVX-512 variant that the local engine's model server uses where the CPU has it.
#
# Why: llama-cpp-python ships only a source package here, and its default build is "native": it
# compiles for the CPU it is built on. Machines of this project's kind differ from one session to
# the next, and on CPUs with AMX (Sapphire Rapids and later) the native build segfaults inside
# llama_decode. So both builds use fixed flags, AMX always off:
#   portable  AVX2/FMA/F16C/BMI2, installed in the venv (every x86-64 CPU since ~2013 runs it);
#   avx512    + AVX-512 F/CD/BW/DQ/VL, VBMI, VNNI, BF16, installed beside it in
#             $VENV/llama-cpp-variants/avx512; the model server child imports it only on a CPU
#             with all of those flags (assistant/engines/llama_server.py). It reads prompts ~2x
#             faster where it runs (BENCHMARKS.md, "llama.cpp builds").
# Each wheel is cached by version + flags (pip's own cache is keyed by version alone and could hand
# back a native wheel), so a second install on the same machine takes seconds.
#
# Usage: scripts/install-llama-cpp.sh PIP   (PIP = the venv's pip)
set -euo pipefail
PIP=${1:?usage: install-llama-cpp.sh PIP}
BIN="$(cd "$(dirname "$PIP")" && pwd)"
PY="$BIN/python"
VENV="$(dirname "$BIN")"
VERSION=0.3.36
PORTABLE="-DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=ON"
AVX512="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
WHEELS="${STACK_ASSISTANT_WHEELS:-$HOME/.cache/stack-assistant/wheels}"
VARIANT_DIR="$VENV/llama-cpp-variants/avx512"

key() { printf '%s %s' "$VERSION" "$1" | sha256sum | cut -c1-16; }

# wheel FLAGS -> path of the cached wheel built with exactly those flags (built when missing)
wheel() {
  local dir
  dir="$WHEELS/llama-cpp-python-$VERSION-$(key "$1")"
  if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "Building llama-cpp-python $VERSION ($2; 6-10 min on 2 cores) ..." >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    CMAKE_ARGS="$1" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$PIP" wheel -q --no-cache-dir --no-deps --no-binary llama-cpp-python -w "$dir.tmp" "llama-cpp-python==$VERSION" >&2
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  ls "$dir"/llama_cpp_python-*.whl
}

# check DIR-or-empty KEY FORBIDDEN...: the llama_cpp importable (from DIR when given) is our build
check() {
  PYTHONPATH="${1}" "$PY" - "$2" "${@:3}" <<'PY'
import sys, pathlib, llama_cpp
marker = pathlib.Path(llama_cpp.__file__).with_name("STACK_ASSISTANT_BUILD")
info = llama_cpp.llama_print_system_info().decode()
ok = marker.is_file() and marker.read_text().strip() == sys.argv[1] and not any(f in info for f in sys.argv[2:])
sys.exit(0 if ok else 1)
PY
}

mark() {  # mark DIR-or-empty KEY: leave the build key beside the llama_cpp package
  PYTHONPATH="${1}" "$PY" -c "import sys, pathlib, llama_cpp; pathlib.Path(llama_cpp.__file__).with_name('STACK_ASSISTANT_BUILD').write_text(sys.argv[1] + '\n'); print('llama.cpp build:', llama_cpp.llama_print_system_info().decode().strip())" "$2"
}

# 1. The portable build, in the venv (with the server's dependencies).
if check "" "$(key "$PORTABLE")" "AMX_INT8 = 1" "AVX512 = 1"; then
  echo "llama-cpp-python $VERSION: portable build already installed"
else
  whl=$(wheel "$PORTABLE" "portable AVX2 build")
  "$PIP" install -q --force-reinstall --no-deps "$whl"
  "$PIP" install -q "$whl[server]"
  mark "" "$(key "$PORTABLE")"
  check "" "$(key "$PORTABLE")" "AMX_INT8 = 1" "AVX512 = 1" || { echo "the portable build shows AVX-512/AMX" >&2; exit 1; }
fi

# 2. The AVX-512 variant, beside it (only the llama_cpp package; it uses the venv's other packages).
# It is imported (to check or mark it) only on a CPU with AVX-512; elsewhere its key is plain text
# (the model server never imports this variant on such a CPU).
HAS_AVX512=$(grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo yes || echo no)
variant_ok() {
  [ -d "$VARIANT_DIR/llama_cpp" ] || return 1
  if [ "$HAS_AVX512" = yes ]; then
    check "$VARIANT_DIR" "$(key "$AVX512")" "AMX_INT8 = 1"
  else
    [ "$(cat "$VARIANT_DIR/llama_cpp/STACK_ASSISTANT_BUILD" 2>/dev/null)" = "$(key "$AVX512")" ]
  fi
}
if [ "${STACK_ASSISTANT_LLAMA_VARIANTS:-avx512}" = "none" ]; then
  rm -rf "$VARIANT_DIR"
elif variant_ok; then
  echo "llama-cpp-python $VERSION: AVX-512 variant already installed"
else
  whl=$(wheel "$AVX512" "AVX-512 variant")
  rm -rf "$VARIANT_DIR" && mkdir -p "$VARIANT_DIR"
  "$PIP" install -q --no-deps --target "$VARIANT_DIR" "$whl"
  if [ "$HAS_AVX512" = yes ]; then
    mark "$VARIANT_DIR" "$(key "$AVX512")"
  else
    echo "$(key "$AVX512")" > "$VARIANT_DIR/llama_cpp/STACK_ASSISTANT_BUILD"
  fi
  variant_ok || { echo "the AVX-512 variant did not install as built" >&2; exit 1; }
fi
