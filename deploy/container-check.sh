#!/usr/bin/env bash
# The container check: builds the Kiln image with podman (no Docker engine, no registry: the base
# image comes from deploy/podman-base.sh), then uses it the way a deployment would:
#   - the image: runs as kiln (10001), declares the /data volume, STOPSIGNAL SIGTERM and a
#     HEALTHCHECK, and its runtime stage has no compiler;
#   - run it with a named data volume on a loopback port, wait until its HEALTHCHECK says healthy,
#     read /health (the ISA the kernels picked at run time);
#   - submit a tiny job through the API (an MLP on the generated `shapes` set), read its server-sent
#     events until `end`, check it succeeded with its loss curve;
#   - submit a long job, stop the container with SIGTERM while it trains: it must exit 0 after
#     the job wrote a checkpoint; a new container on the same volume must find the job and continue
#     it from that checkpoint (then it is cancelled);
#   - remove the containers, the volume and the image.
# Run as root from anywhere (podman and debootstrap need root here). Prints each step with its time
# and ends with `container check: N passed, N failed`; exits non-zero on any failure.
#   IMAGE=localhost/kiln:check   the tag to build and remove (KEEP_IMAGE=1 keeps it)
#   BASE=localhost/node20-bookworm:local   the base image (built by deploy/podman-base.sh if missing)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

IMAGE=${IMAGE:-localhost/kiln:check}
BASE=${BASE:-localhost/node20-bookworm:local}
tag=kiln-check-$$
VOLUME=$tag-data
# The engine settings these hosts need (runc, lower ulimits: TOOLCHAIN.md section 6).
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/containers.conf}

passed=0
failed=0
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
t_all=$(now_ms)
t_step=$t_all
step() { t_step=$(now_ms); printf '\n--- %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf 'ok   %s (%ss)\n' "$*" "$(elapsed "$t_step")"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s (%ss)\n' "$*" "$(elapsed "$t_step")"; }
finish() {
  printf '\ncontainer check: %s passed, %s failed (%ss in all)\n' "$passed" "$failed" "$(elapsed "$t_all")"
  [ "$failed" -eq 0 ]
  exit
}
# A failure that leaves nothing to check after it.
fatal() { bad "$*"; finish; }

cleanup() {
  for c in "$tag" "$tag-2"; do
    podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
  done
  podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  if [ "${KEEP_IMAGE:-0}" != 1 ]; then podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
  if [ "$failed" -eq 0 ]; then rm -f "/tmp/$tag-build.log"; fi # kept for a failed run
}
trap cleanup EXIT

# JSON helpers run by the host's node (the image has no curl either).
# js SCRIPT ARGS...: runs an ES module with the base URL as argv[2]; prints what it prints.
js() { local code=$1; shift; node --input-type=module -e "$code" -- "$@"; }

# --- 1. tools and the base image -------------------------------------------------------------
step "podman, buildah, debootstrap, runc and the base image $BASE (deploy/podman-base.sh)"
if IMAGE=$BASE bash deploy/podman-base.sh; then ok "base image"; else fatal "deploy/podman-base.sh"; fi
podman --version

# --- 2. build ----------------------------------------------------------------------------------
step "podman build $IMAGE"
ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
secret=()
# The machine's CA bundle carries the TLS-interception CA npm needs inside the build.
if [ -s "$ca" ]; then secret=(--secret "id=ca,src=$ca"); fi
if podman build --format docker "${secret[@]}" --build-arg "BASE=$BASE" -t "$IMAGE" . >"/tmp/$tag-build.log" 2>&1; then
  ok "image built ($(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
else
  tail -n 40 "/tmp/$tag-build.log"
  fatal "podman build (log: /tmp/$tag-build.log)"
fi

# --- 3. the image's configuration ---------------------------------------------------------------
step "image configuration"
cfg=$(podman image inspect "$IMAGE")
if js '
  const [image] = JSON.parse(process.argv[1]);
  const c = image.Config;
  c.Healthcheck ??= image.Healthcheck; // podman shows it beside Config, docker inside it
  const env = Object.fromEntries((c.Env ?? []).map((e) => e.split(/=(.*)/s).slice(0, 2)));
  const problems = [];
  if (c.User !== "kiln:kiln") problems.push(`User is ${c.User}`);
  if (!c.Volumes || !("/data" in c.Volumes)) problems.push("no /data volume");
  if (env.KILN_DATA_DIR !== "/data") problems.push(`KILN_DATA_DIR is ${env.KILN_DATA_DIR}`);
  if (c.StopSignal !== "SIGTERM") problems.push(`StopSignal is ${c.StopSignal}`);
  if (!c.Healthcheck?.Test?.length) problems.push("no HEALTHCHECK (was it built with --format docker?)");
  if (!c.ExposedPorts?.["3000/tcp"]) problems.push("port 3000 not exposed");
  if (problems.length) { console.log(problems.join("; ")); process.exit(1); }
  console.log(`user ${c.User}, volume /data, StopSignal ${c.StopSignal}, healthcheck: ${c.Healthcheck.Test.slice(0, 2).join(" ")} ...`);
' "$cfg"; then ok "user, volume, stop signal, healthcheck"; else bad "image configuration"; fi

# The runtime stage must carry no toolchain, and the server must not be able to rewrite itself.
# The dashboard (public/) must be in the image when the source tree has it.
want_public=0; [ -d public ] && want_public=1
compilers=$(podman run --rm --entrypoint sh "$IMAGE" -c 'for t in gcc g++ cc c++ make cmake python3; do command -v $t; done; [ -w /app/dist ] && echo "/app/dist is writable"; [ -w /data ] || echo "/data is not writable"; [ "$1" = 0 ] || [ -d /app/public ] || echo "no /app/public"; id -u' sh "$want_public" 2>/dev/null)
if [ "$compilers" = 10001 ]; then ok "no compiler or build tool in the runtime image; /app read-only to the server, /data writable, uid 10001$([ $want_public = 1 ] && echo ', public/ present')"
else printf '%s\n' "$compilers"; bad "runtime image contents"; fi

# --- 4. run and wait for healthy ---------------------------------------------------------------
run() { # run NAME: a detached container on the data volume, on a free loopback port
  podman run -d --name "$1" --stop-timeout 60 -p 127.0.0.1::3000 -v "$VOLUME:/data" \
    -e KILN_THREADS=1 -e LOG_LEVEL=info "$IMAGE" 2>&1 | grep -v 'unable to get systemd connection' || true
}
wait_healthy() { # wait_healthy NAME: runs the image's HEALTHCHECK (no systemd timers here) until it passes
  for _ in $(seq 1 120); do
    if podman healthcheck run "$1" >/dev/null 2>&1; then
      status=$(podman inspect --format '{{.State.Healthcheck.Status}}' "$1" 2>/dev/null)
      [ "$status" = healthy ] && return 0
    fi
    sleep 0.5
  done
  podman logs "$1" 2>&1 | tail -n 20
  return 1
}
url() { echo "http://$(podman port "$1" 3000/tcp | head -n 1)"; }

step "podman run (volume $VOLUME) and wait for the HEALTHCHECK"
podman volume create "$VOLUME" >/dev/null
run "$tag"
if wait_healthy "$tag"; then ok "healthy"; else fatal "the container did not become healthy"; fi
BASE_URL=$(url "$tag")
echo "listening on $BASE_URL"

step "GET /health"
if js '
  const r = await fetch(`${process.argv[1]}/health`);
  const h = await r.json();
  console.log(JSON.stringify({ status: h.status, isa: { active: h.isa.active, best: h.isa.best, supported: h.isa.supported }, threads: h.threads, node: h.node, build: h.build }));
  if (r.status !== 200 || h.status !== "ok" || !h.isa.supported.includes(h.isa.active) || h.build !== "cmake-js") process.exit(1);
' "$BASE_URL"; then ok "/health"; else bad "/health"; fi

if [ "$want_public" = 1 ]; then
  step "GET / (the dashboard)"
  if js '
    const r = await fetch(`${process.argv[1]}/`);
    const html = await r.text();
    console.log(`${r.status} ${r.headers.get("content-type")}, ${html.length} bytes`);
    if (r.status !== 200 || !r.headers.get("content-type")?.startsWith("text/html")) process.exit(1);
  ' "$BASE_URL"; then ok "dashboard served"; else bad "GET /"; fi
fi

# --- 5. a tiny job through the API, its events to the end ---------------------------------------
step "submit a tiny job (MLP on generated shapes, 30 steps) and read its events until end"
if js '
  const base = process.argv[1];
  const body = {
    name: "container-check", model: { preset: "mlp", options: { hidden: [32] } },
    data: { name: "shapes", options: { train: 256, validation: 32, test: 16, size: 16, seed: 1 } },
    optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9 }, steps: 30, batchSize: 16, seed: 1,
  };
  const sub = await fetch(`${base}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const job = await sub.json();
  if (sub.status !== 201) throw new Error(`POST /v1/jobs: ${sub.status} ${JSON.stringify(job)}`);
  console.log(`job ${job.id}: ${job.summary.params} parameters`);
  // The SSE stream: read until the end event, then the server closes it.
  const res = await fetch(`${base}/v1/jobs/${job.id}/events`, { signal: AbortSignal.timeout(120_000) });
  if (res.status !== 200 || !res.headers.get("content-type")?.startsWith("text/event-stream")) throw new Error(`events: ${res.status}`);
  const counts = {};
  let text = "", end = null;
  const dec = new TextDecoder();
  for await (const chunk of res.body) {
    text += dec.decode(chunk, { stream: true });
    let i;
    while ((i = text.indexOf("\n\n")) >= 0) {
      const frame = text.slice(0, i); text = text.slice(i + 2);
      const type = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (!type) continue;
      counts[type] = (counts[type] ?? 0) + 1;
      if (type === "end") end = JSON.parse(data);
    }
  }
  console.log(`events: ${JSON.stringify(counts)}; end: ${JSON.stringify({ state: end?.state, step: end?.step })}`);
  if (!end || end.state !== "succeeded" || end.step !== 30 || !counts.progress || !counts.state) throw new Error("the stream did not end with a succeeded job at step 30");
  const got = await (await fetch(`${base}/v1/jobs/${job.id}`)).json();
  const m = await (await fetch(`${base}/v1/jobs/${job.id}/metrics?name=loss`)).json();
  const loss = m.series.loss.values;
  console.log(`job ${got.state}, step ${got.progress.step}/${got.progress.totalSteps}, loss ${loss[0].toFixed(3)} -> ${loss.at(-1).toFixed(3)} over ${loss.length} points`);
  if (got.state !== "succeeded" || got.progress.step !== 30 || loss.length !== 30 || !loss.every(Number.isFinite)) process.exit(1);
' "$BASE_URL"; then ok "job succeeded, events read to end"; else bad "tiny job"; fi

# --- 6. SIGTERM with a job training: checkpoint, exit 0, continue on the same volume -------------
step "a long job, then SIGTERM while it trains"
long=$(js '
  const base = process.argv[1];
  const body = {
    name: "container-check-long", model: { preset: "mlp", options: { hidden: [64] } },
    data: { name: "shapes", options: { train: 256, validation: 32, test: 16, size: 16, seed: 2 } },
    optimizer: { kind: "sgd", lr: 0.01 }, steps: 1000000, batchSize: 16, seed: 2,
  };
  const job = await (await fetch(`${base}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json();
  for (let i = 0; i < 600; i++) { // until it has trained a few steps (the worker and data take a moment)
    const j = await (await fetch(`${base}/v1/jobs/${job.id}`)).json();
    if (j.state === "running" && j.progress.step >= 20) { console.log(job.id); process.exit(0); }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.exit(1);
' "$BASE_URL") || fatal "the long job did not start"
echo "job $long is training"
t_stop=$(now_ms)
podman stop -t 60 "$tag" >/dev/null 2>&1
stop_s=$(elapsed "$t_stop")
code=$(podman inspect --format '{{.State.ExitCode}}' "$tag")
podman logs "$tag" 2>&1 | grep -E '"msg":"(shutting down|job (started|stopped|ended)|.*checkpoint.*)"' | tail -n 4 | cut -c1-200
if [ "$code" = 0 ]; then ok "podman stop (SIGTERM): exit code 0 after ${stop_s}s"; else bad "exit code $code after SIGTERM (${stop_s}s)"; fi

step "a new container on the same volume continues the job from its checkpoint"
run "$tag-2"
if wait_healthy "$tag-2"; then
  BASE_URL=$(url "$tag-2")
  if js '
    const [base, id] = process.argv.slice(1);
    const get = async (p) => (await fetch(`${base}${p}`)).json();
    let j = await get(`/v1/jobs/${id}`);
    const ck = j.checkpointStep;
    const events = [];
    // the stored events so far (the stream replays them from id 0), read for two seconds
    const res = await fetch(`${base}/v1/jobs/${id}/events`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    try { for await (const c of res?.body ?? []) events.push(new TextDecoder().decode(c)); } catch {}
    const text = events.join("");
    // the last checkpoint event and the state events the stop and the restart wrote
    const ckEvent = [...text.matchAll(/event: checkpoint\ndata: ([^\n]*)/g)].at(-1)?.[1];
    const states = [...text.matchAll(/event: state\ndata: ([^\n]*)/g)].map((m) => m[1]);
    for (let i = 0; i < 100 && !(j.state === "running" && j.progress.step > (ck ?? 0)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      j = await get(`/v1/jobs/${id}`);
    }
    console.log(`checkpoint event: ${ckEvent ?? "none"}`);
    console.log(`state events: ${states.join(" ")}`);
    console.log(`after restart: ${j.state} at step ${j.progress.step}, attempts ${j.attempts}, checkpoint step ${ck}`);
    if (!ckEvent || !(ck > 0) || j.attempts < 2 || j.state !== "running" || !(j.progress.step > ck)) process.exit(1);
    await fetch(`${base}/v1/jobs/${id}/cancel`, { method: "POST" });
    for (let i = 0; i < 100 && j.state !== "cancelled"; i++) { await new Promise((r) => setTimeout(r, 100)); j = await get(`/v1/jobs/${id}`); }
    console.log(`then cancelled: ${j.state}`);
    if (j.state !== "cancelled") process.exit(1);
  ' "$BASE_URL" "$long"; then ok "the job checkpointed on SIGTERM and continued in the new container"; else bad "resume after SIGTERM"; fi
else
  bad "the second container did not become healthy"
fi
step "stop the second container"
podman stop -t 60 "$tag-2" >/dev/null 2>&1
code=$(podman inspect --format '{{.State.ExitCode}}' "$tag-2")
if [ "$code" = 0 ]; then ok "exit code 0"; else bad "exit code $code"; fi

finish
