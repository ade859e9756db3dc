// The training config a job runs, from what the store keeps (the submission): the job's own
// fields removed, its checkpoint directory set (inside the job's directory; never from a request).

/** Fields of a submission that are not part of the training config. */
export const JOB_FIELDS = ['name', 'threads', 'memoryMb', 'checkpoint'] as const;

/** The config with an uploaded data set's directory in its data options (the worker opens the set
 * from there; uploadDir is never accepted from a request: data-shape.ts rejects it). */
export function withUploadDir(config: Record<string, unknown>, uploadDir?: (name: string) => string | null): Record<string, unknown> {
  const data = config.data as { name?: unknown; options?: Record<string, unknown> } | undefined;
  const dir = uploadDir && typeof data?.name === 'string' ? uploadDir(data.name) : null;
  return dir ? { ...config, data: { ...data, options: { ...data!.options, uploadDir: dir } } } : config;
}

export function trainConfigOf(spec: Record<string, unknown>, checkpointDir: string): Record<string, unknown> {
  const config: Record<string, unknown> = { ...spec };
  for (const k of JOB_FIELDS) delete config[k];
  const ck = (spec.checkpoint ?? {}) as Record<string, unknown>;
  config.checkpoint = { ...ck, dir: checkpointDir };
  return config;
}
