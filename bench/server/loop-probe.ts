// Preloaded into the server process by the `server` bench suite (node --import): the HTTP
// thread's event-loop delay over a window the bench chooses. GET /metrics reports the delay since
// the server started, which mixes idle and busy periods; this histogram is reset and read over
// the process's IPC channel ('reset', 'read') so a percentile covers exactly the measured phase.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 5 });
h.enable();

process.on('message', (m: unknown) => {
  if (m === 'reset') {
    h.reset();
    process.send?.({ type: 'reset' });
  } else if (m === 'read') {
    const ms = (ns: number) => ns / 1e6;
    process.send?.({ type: 'loop', p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count });
  }
});
// the channel must not keep the server alive on its own
(process.channel as { unref?: () => void } | undefined)?.unref?.();
