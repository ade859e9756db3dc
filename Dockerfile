# syntax=docker/dockerfile:1
# Kiln: the training server and its native addon. Build and run commands: deploy/README.md.
#
# BASE is any Debian bookworm image with Node 20 (node, npm) on PATH. On a normal Docker host the
# default works; on machines without Docker Hub, deploy/podman-base.sh builds
# localhost/node20-bookworm:local and the build passes --build-arg BASE=localhost/node20-bookworm:local.
ARG BASE=node:20-bookworm-slim

# ---- build: compiler toolchain, all dependencies, the addon and the TypeScript build -------------
FROM ${BASE} AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ make cmake ninja-build python3 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

# The whole (filtered, see .dockerignore) source tree: package.json's install script compiles the
# addon from native/ (cmake-js in Node-API mode: no header download, baseline flags plus per-ISA
# libraries, never -march=native: the kernels pick AVX-512/AVX2/ref when the server starts), and
# postinstall runs tsc over src/ and routes/, so npm ci needs all of it.
COPY . .

# better-sqlite3 has no prebuilt binary reachable here and compiles with node-gyp: pointing
# npm_config_nodedir at the base image's own Node headers keeps node-gyp from downloading them.
# Optional build secret 'ca': an extra CA bundle for a TLS-intercepting proxy between the build and
# the npm registry (--secret id=ca,src=...). Without it nothing changes. The npm cache is a cache
# mount, so a rebuild after a source change downloads nothing.
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=cache,target=/root/.npm,sharing=locked \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")") \
 && if [ -f "$prefix/include/node/node_api.h" ]; then export npm_config_nodedir="$prefix"; fi \
 && npm ci \
 && test -f build-cmake/Release/kiln.node \
 && test -f dist/src/server.js

# Drop devDependencies (compiler front ends, types, test tools). npm prune does not run the root
# install/postinstall scripts (checked with npm 11.19); --ignore-scripts keeps it that way.
# better-sqlite3 keeps its compiled better_sqlite3.node and lib/: its SQLite sources and object
# files (25 MB) only served the compile.
RUN npm prune --omit=dev --ignore-scripts \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src build/Release/obj build/Release/obj.target build/Release/.deps build/deps \
 && test -f build/Release/better_sqlite3.node

# Assemble what runs, apart from node_modules (its own layer: it changes far less often than the
# code). public/ (the dashboard) is copied only if the tree has one.
RUN mkdir -p /out/build-cmake/Release \
 && cp -a package.json dist /out/ \
 && cp -a build-cmake/Release/kiln.node /out/build-cmake/Release/ \
 && if [ -d public ]; then cp -a public /out/; fi

# ---- runtime: Node, production dependencies, the compiled server and the addon, as a non-root user
FROM ${BASE}

LABEL org.opencontainers.image.title="kiln" \
      org.opencontainers.image.description="Kiln training server: C++ SIMD kernels behind an HTTP API" \
      org.opencontainers.image.licenses="MIT"

# A fixed UID/GID (10001) so that volumes can be chowned for it; --no-log-init keeps lastlog sparse.
RUN groupadd --gid 10001 kiln \
 && useradd --uid 10001 --gid kiln --home-dir /app --no-create-home --no-log-init \
      --shell /usr/sbin/nologin kiln

# The data directory (KILN_DATA_DIR): the SQLite store kiln.db and each job's checkpoints. It is
# the only place the server writes, owned by kiln; the VOLUME keeps it across container restarts
# (a named volume is seeded with this owner and mode on first use).
RUN mkdir -p /data && chown kiln:kiln /data && chmod 0750 /data

WORKDIR /app
# Owned by root and read-only for the server: it cannot rewrite its own code.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /out/ ./

# Configuration is by environment (deploy/README.md lists every variable); these are the image's
# defaults. Anything else, e.g. KILN_THREADS or KILN_ISA, goes in with -e / compose `environment:`.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 KILN_DATA_DIR=/data
VOLUME ["/data"]
USER kiln:kiln
EXPOSE 3000

# node, not curl (the image has no curl). Fails on a non-2xx answer, a refused connection or 4 s of
# silence. Podman keeps HEALTHCHECK only in the docker image format (podman build --format docker).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1 and handles SIGTERM itself: it stops taking requests, running jobs write a
# checkpoint at their next step boundary and go back to the queue (they resume when the server
# starts again on the same volume), the store closes, and it exits 0. That can take longer than
# docker's default 10 s stop timeout before SIGKILL, so stop with a longer one (docker stop -t 60,
# podman stop -t 60, compose stop_grace_period: 60s). It starts no child processes (jobs are
# worker threads), so there are no zombies to reap.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/server.js"]
