#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls this; the README's test command is
# `npm run test:all`). On a fresh machine it installs what the tests need, then:
#   lint, typecheck,
#   every test against the cmake-js build (the CPU's best ISA),
#   the native tests once per ISA level the CPU has (KILN_ISA=ref|avx2|avx512),
#   the native tests under `qemu-x86_64 -cpu Nehalem` (no AVX at all: an AVX instruction leaking
#     into baseline code dies with SIGILL here instead of on a user's machine),
#   every test against the node-gyp build,
#   the arm64 build of the addon and the native self-test under qemu-aarch64,
#   the container check (deploy/container-check.sh: podman builds the image and runs it).
# It ends with one line `N passed, N failed`: vitest's tests summed over all runs, plus one entry
# per non-vitest check (install, lint, typecheck, builds). Exit status is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
reports=.vitest-reports
rm -rf "$reports" && mkdir -p "$reports"

step() { printf '\n=== %s ===\n' "$*"; }
check() { # check NAME CMD...: a non-vitest check counted as one test
  local name=$1; shift
  step "$name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}
vitest_run() { # vitest_run NAME [ENV=VAL...] -- [PREFIX...] -- VITEST_ARGS...
  local name=$1; shift
  local envs=() prefix=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  while [ "$1" != "--" ]; do prefix+=("$1"); shift; done; shift
  local report="$reports/$(echo "$name" | tr -c 'a-zA-Z0-9' '-').json"
  step "vitest: $name"
  env "${envs[@]}" "${prefix[@]}" "$(command -v node)" node_modules/vitest/vitest.mjs run \
    --reporter=default --reporter=json --outputFile.json="$report" "$@"
  local rc=$?
  if [ -s "$report" ]; then
    read -r p f < <(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(r.numPassedTests, r.numFailedTests)' "$report")
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi # e.g. a file that failed to load
  else
    failed=$((failed + 1))
  fi
  [ "$rc" -eq 0 ] || failures+=("vitest: $name")
}

# --- system packages the tests need -------------------------------------------------------
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
[ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || need+=(dataset-fashion-mnist) # test/data/packaged.test.ts reads it
[ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null || need+=(chromium) # test/browser (the dashboard)
if [ "$(uname -m)" = x86_64 ]; then
  command -v qemu-x86_64 >/dev/null || need+=(qemu-user)
  command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
  if [ "$(id -u)" -eq 0 ] && [ "${KILN_CONTAINER_CHECK:-1}" != 0 ]; then # the container check
    for tool in podman buildah debootstrap runc; do command -v "$tool" >/dev/null || need+=("$tool"); done
  fi
fi
if [ ${#need[@]} -gt 0 ]; then
  step "apt-get install ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" \
    || { echo "could not install ${need[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}" # test/browser skips without it

# --- install (builds the addon with cmake-js, then the TypeScript) ---------------------------
check "npm ci (cmake-js build)" npm ci --no-audit --no-fund
if [ ! -f build-cmake/Release/kiln.node ]; then
  echo "the addon did not build; nothing else can run"
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
fi

check "lint" npm run --silent lint
check "typecheck" npm run --silent typecheck

cmake_addon="$PWD/build-cmake/Release/kiln.node"
vitest_run "all tests, cmake-js build" KILN_ADDON="$cmake_addon" KILN_EXPECT_BUILDER=cmake-js -- --

for isa in $(KILN_ADDON="$cmake_addon" node -e 'console.log(require(process.env.KILN_ADDON).isa().supported.join(" "))'); do
  vitest_run "native tests, KILN_ISA=$isa" KILN_ADDON="$cmake_addon" KILN_ISA="$isa" -- -- test/native
done

if [ "$(uname -m)" = x86_64 ]; then
  # --pool=threads: forked test processes would run natively, outside the emulator.
  vitest_run "native tests under qemu-x86_64 -cpu Nehalem" KILN_ADDON="$cmake_addon" KILN_EXPECT_BEST=ref -- \
    qemu-x86_64 -cpu Nehalem -- test/native --pool=threads
fi

check "npm run build:gyp (node-gyp build)" npm run --silent build:gyp
if [ -f build/Release/kiln.node ]; then
  vitest_run "all tests, node-gyp build" KILN_ADDON="$PWD/build/Release/kiln.node" KILN_EXPECT_BUILDER=node-gyp -- --
fi

if [ "$(uname -m)" = x86_64 ]; then
  step "arm64: cross-built addon and native self-test under qemu-aarch64"
  if out=$(bash tools/arm64-check.sh 2>&1); then rc=0; else rc=$?; fi
  echo "$out"
  if line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1) && [ -n "$line" ]; then
    read -r p _ f _ <<<"$line"; passed=$((passed + p)); failed=$((failed + f))
  fi
  if [ "$rc" -ne 0 ]; then failed=$((failed + 1)); failures+=("arm64 check"); fi
fi

# The image built with podman and run: /health, a job through the API, SIGTERM (deploy/README.md).
# Root only (podman and debootstrap here); KILN_CONTAINER_CHECK=0 skips it.
if [ "$(uname -m)" = x86_64 ] && [ "$(id -u)" -eq 0 ] && [ "${KILN_CONTAINER_CHECK:-1}" != 0 ]; then
  check "container check (deploy/container-check.sh)" bash deploy/container-check.sh
else
  step "container check skipped (needs root on x86-64, KILN_CONTAINER_CHECK not 0)"
fi

step "summary"
if [ ${#failures[@]} -gt 0 ]; then printf 'failed: %s\n' "${failures[@]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
