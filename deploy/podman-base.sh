#!/usr/bin/env bash
# Builds the local base image (default localhost/node20-bookworm:local) that stands in for
# node:20-bookworm-slim on machines that cannot reach Docker Hub: a debootstrap'ed Debian bookworm
# (minbase, from this machine's own apt mirror) plus this machine's Node (node, npm, corepack and
# the headers), imported with podman. See TOOLCHAIN.md section 6 and deploy/README.md.
#
# Idempotent: does nothing when the image already exists (pass --force to rebuild it).
# Needs root (debootstrap, chroot). Installs podman, buildah, debootstrap and runc with apt-get if
# any is missing.
#
# Usage: deploy/podman-base.sh [--force]
#   ARCH=<this machine's>                   the Debian architecture (amd64, arm64). Another one than
#                                           this machine's needs qemu-user-static registered with
#                                           binfmt_misc (the script registers it) and takes Node
#                                           from the npm package node-linux-<arch> of the same version
#   IMAGE=localhost/node20-bookworm:local   the tag to create (…:local-<arch> for another ARCH)
#   SUITE=bookworm                          the Debian release
#   MIRROR=<from apt-get indextargets>      the Debian mirror (this machine's, by default)
set -euo pipefail

HOST_ARCH=$(dpkg --print-architecture)
ARCH=${ARCH:-$HOST_ARCH}
if [ "$ARCH" = "$HOST_ARCH" ]; then IMAGE=${IMAGE:-localhost/node20-bookworm:local}; else IMAGE=${IMAGE:-localhost/node20-bookworm:local-$ARCH}; fi
SUITE=${SUITE:-bookworm}
FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  '') ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

log() { printf 'podman-base: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (debootstrap and chroot need it)"
  exit 1
fi

# 1. Tools. runc, not crun: crun 1.8 fails on these hosts' hybrid cgroups (deploy/containers.conf).
missing=()
for tool in podman buildah debootstrap runc; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
case "$ARCH" in
  amd64) QEMU_ARCH=x86_64 NODE_ARCH=x64 ;;
  arm64) QEMU_ARCH=aarch64 NODE_ARCH=arm64 ;;
  *) log "ARCH=$ARCH: only amd64 and arm64 are supported"; exit 2 ;;
esac
if [ "$ARCH" != "$HOST_ARCH" ] && ! command -v "qemu-$QEMU_ARCH-static" >/dev/null 2>&1; then missing+=(qemu-user-static); fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The engine settings this host needs (runc, lower ulimits), unless the caller chose a file.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}

if [ "$FORCE" -eq 0 ] && podman image exists "$IMAGE"; then
  log "$IMAGE already exists; nothing to do (--force rebuilds it)"
  exit 0
fi

# A foreign architecture runs its programs (debootstrap's second stage, apt and the compilers in
# the build stage) through qemu-user-static, registered with binfmt_misc with the F flag so that
# the interpreter also works inside containers. Registering is kernel-wide and lasts until reboot.
if [ "$ARCH" != "$HOST_ARCH" ]; then
  binfmt=/proc/sys/fs/binfmt_misc
  [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" || { log "cannot mount binfmt_misc"; exit 1; }
  if [ ! -e "$binfmt/qemu-$QEMU_ARCH" ]; then
    conf=/usr/lib/binfmt.d/qemu-$QEMU_ARCH.conf
    [ -f "$conf" ] || { log "no $conf (apt-get install qemu-user-static)"; exit 1; }
    cat "$conf" >"$binfmt/register" || { log "could not register $conf with binfmt_misc"; exit 1; }
  fi
  grep -q '^flags: .*F' "$binfmt/qemu-$QEMU_ARCH" || log "warning: qemu-$QEMU_ARCH is registered without the F flag; containers may not find it"
fi

# 2. Node on this machine: the binary links only glibc/libstdc++, which bookworm has.
NODE_BIN=$(command -v node) || { log "node not found on PATH"; exit 1; }
NODE_BIN=$(readlink -f "$NODE_BIN")
NP=$(dirname "$(dirname "$NODE_BIN")")   # Node's install prefix (/usr for the .deb, /usr/local for a tarball)
for p in "$NP/lib/node_modules/npm" "$NP/include/node/node_api.h"; do
  [ -e "$p" ] || { log "expected $p next to $NODE_BIN"; exit 1; }
done
NODE_VERSION=$("$NODE_BIN" -v)

# 3. Debian from this machine's mirror (plain HTTP: no TLS interception to deal with).
# shellcheck disable=SC2016 # $(REPO_URI) is apt's template syntax, not the shell's
if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | awk -v s="$SUITE" '$2==s{print $1; exit}')
fi
[ -n "$MIRROR" ] || { log "no apt mirror for $SUITE found; set MIRROR"; exit 1; }
# shellcheck disable=SC2016
SECURITY_MIRROR=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | awk -v s="$SUITE-security" '$2==s{print $1; exit}')

WORK=$(mktemp -d /var/tmp/podman-base.XXXXXX)
cleanup() {
  # debootstrap may leave /proc or /sys mounted inside the rootfs when it fails
  for m in proc sys dev/pts dev; do umount -l "$WORK/rootfs/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

log "debootstrap $SUITE (minbase, $ARCH) from $MIRROR into $WORK/rootfs"
debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 30 "$WORK/debootstrap.log" >&2
  exit 1
}

# Updates and security updates too, so that apt-get in a build stage gets patched packages, and
# apply them now: a base image should not ship known-fixed vulnerabilities.
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  if [ -n "$SECURITY_MIRROR" ]; then echo "deb $SECURITY_MIRROR $SUITE-security main"; fi
} >"$WORK/rootfs/etc/apt/sources.list"
log "applying $SUITE updates inside the rootfs"
chroot "$WORK/rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c 'apt-get update -qq && apt-get upgrade -y -qq' >"$WORK/upgrade.log" 2>&1 || {
  tail -n 30 "$WORK/upgrade.log" >&2
  exit 1
}

log "copying node $NODE_VERSION from $NP"
R="$WORK/rootfs$NP"
mkdir -p "$R/bin" "$R/lib/node_modules" "$R/include"
if [ "$ARCH" = "$HOST_ARCH" ]; then
  cp -a "$NODE_BIN" "$R/bin/node"
else
  # The same Node version built for $ARCH, from the npm registry (the package ships the binary);
  # npm, corepack and the headers are the same files on every architecture.
  log "fetching node-linux-$NODE_ARCH@${NODE_VERSION#v} with npm pack"
  (cd "$WORK" && npm pack --silent "node-linux-$NODE_ARCH@${NODE_VERSION#v}" >/dev/null && tar -xzf node-linux-*.tgz)
  install -m 0755 "$WORK/package/bin/node" "$R/bin/node"
fi
cp -a "$NP/lib/node_modules/npm" "$R/lib/node_modules/"
cp -a "$NP/include/node" "$R/include/"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/bin/npx"
if [ -d "$NP/lib/node_modules/corepack" ]; then
  cp -a "$NP/lib/node_modules/corepack" "$R/lib/node_modules/"
  ln -sf ../lib/node_modules/corepack/dist/corepack.js "$R/bin/corepack"
fi
chroot "$WORK/rootfs" node -v >/dev/null || { log "node does not run inside the rootfs"; exit 1; }

# Slim it: package caches and lists (a build stage runs apt-get update itself), man pages and
# docs, but keep each package's copyright file (license notices travel with the image).
rm -rf "$WORK/rootfs"/var/cache/apt/archives/*.deb "$WORK/rootfs"/var/cache/apt/*.bin \
  "$WORK/rootfs"/var/lib/apt/lists/* "$WORK/rootfs"/tmp/* \
  "$WORK/rootfs"/usr/share/man/* "$WORK/rootfs"/usr/share/info/*
find "$WORK/rootfs/var/log" -type f -delete
find "$WORK/rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$WORK/rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete

log "importing $IMAGE"
tar --numeric-owner -C "$WORK/rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" \
  --change 'CMD ["node"]' \
  --arch "$ARCH" --quiet --message "debootstrap $SUITE minbase ($ARCH) + node $NODE_VERSION (deploy/podman-base.sh)" \
  - "$IMAGE" >/dev/null

podman run --rm --arch "$ARCH" "$IMAGE" node -e 'console.log(`podman-base: ${process.version} runs in the image`)' >&2
podman image ls "$IMAGE" >&2
