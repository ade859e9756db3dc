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
# The portable sources are binding.gyp's main target (the x86 ISA libraries are separate targets
# there): one list for node-gyp and this check. The self-test takes them without the bindings.
mapfile -t sources < <(node -e "const g = JSON.parse(require('fs').readFileSync('binding.gyp', 'utf8'));
console.log(g.targets.find((t) => t.target_name === 'kiln').sources.join('\n'))")
base=() binding=()
for f in "${sources[@]}"; do
  case "$f" in native/binding/*) binding+=("$f") ;; *) base+=("$f") ;; esac
done

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
