#!/usr/bin/env bash
# Proves the portable path on arm64 without arm64 hardware: cross-compiles the whole addon
# (baseline + ref sources: the x86 ISA libraries are not part of an arm64 build) and the native
# self-test with Debian's aarch64 cross compiler, then runs the self-test under qemu-aarch64.
# Needs: g++-aarch64-linux-gnu qemu-user (tools/test-all.sh installs them). Ends with the
# self-test's `N passed, N failed` line.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=aarch64-linux-gnu-g++
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-std=c++17 -O2 -Wall -Wextra -Werror -pthread)
base=(native/dispatch/cpu.cc native/dispatch/table.cc native/runtime/thread_pool.cc native/runtime/gemm.cc
      native/runtime/im2col.cc native/runtime/conv.cc native/runtime/conv_rows.cc native/runtime/winograd.cc native/runtime/batchnorm.cc native/runtime/sequence.cc native/runtime/attention.cc
      native/kernels/ref/elementwise.cc native/kernels/ref/reduce.cc native/kernels/ref/gemm.cc
      native/kernels/ref/layernorm.cc native/kernels/ref/softmax.cc native/kernels/ref/activation.cc native/kernels/ref/embedding.cc
      native/kernels/ref/conv.cc native/kernels/ref/pool.cc native/kernels/ref/shortcut.cc native/kernels/ref/batchnorm.cc
      native/kernels/ref/winograd.cc native/kernels/ref/attention.cc native/kernels/ref/optim.cc)
binding=(native/binding/addon.cc native/binding/args.cc native/binding/params.cc native/binding/elementwise.cc
         native/binding/reduce.cc native/binding/gemm.cc native/binding/conv.cc native/binding/pool.cc
         native/binding/batchnorm.cc native/binding/sequence.cc native/binding/attention.cc native/binding/optim.cc)

echo "arm64: building the addon"
$CXX "${flags[@]}" -fPIC -shared -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DKILN_BUILDER='"arm64-check"' \
  -I node_modules/node-api-headers/include -I node_modules/node-addon-api \
  "${base[@]}" "${binding[@]}" -o "$out/kiln.node"
aarch64-linux-gnu-readelf -h "$out/kiln.node" | grep -q 'AArch64' || { echo "not an arm64 binary"; exit 1; }
# Nothing of ours may be left undefined (a reference to an x86 kernel, a missing definition);
# Node-API and the C/C++ runtime are resolved when Node loads the addon.
undefined=$(aarch64-linux-gnu-nm -D -C --undefined-only "$out/kiln.node" | grep kiln || true)
if [ -n "$undefined" ]; then echo "undefined symbols of ours:"; echo "$undefined"; exit 1; fi

echo "arm64: building and running the self-test under qemu-aarch64"
$CXX "${flags[@]}" -static "${base[@]}" native/selftest/selftest.cc -o "$out/selftest"
qemu-aarch64 "$out/selftest"
