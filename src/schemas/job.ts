// JSON schemas of the jobs API: the submission body (first-level shapes and bounds; the training
// config's own checks in src/train/config.ts go deeper and name the field), the job as the API
// shows it, and the shared pieces (ids, pagination).
import { JOB_STATES } from '../jobs/state.js';

export const jobIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'a job id' } },
} as const;

const obj = (description: string) => ({ type: 'object', description, additionalProperties: true }) as const;

export const submissionBody = {
  type: 'object',
  required: ['model', 'data', 'optimizer', 'batchSize'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    model: { ...obj('{ preset, options? } (GET /v1/models) or { graph: { input, nodes, seed? } }'), minProperties: 1 },
    data: {
      type: 'object', required: ['name'], additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 100, description: 'a data set of GET /v1/datasets' },
        options: obj('the data set\'s options (sizes, validation split, seed)'),
        augment: obj('{ normalize?, crop?: { padding }, flip?, jitter? }'),
        evalBatchSize: { type: 'integer', minimum: 1, maximum: 65536 },
        decodeLimit: { type: 'integer', minimum: 0, maximum: 10000000 },
      },
    },
    optimizer: {
      type: 'object', required: ['kind', 'lr'], additionalProperties: true,
      properties: { kind: { type: 'string', enum: ['sgd', 'adam', 'adamw'] }, lr: { type: 'number', minimum: 0, maximum: 1e6 } },
    },
    schedule: obj('learning-rate schedule: { kind: constant | step | multistep | cosine | noam | plateau | warmup, ... }'),
    plateauMetric: { type: 'string', maxLength: 32 },
    labelSmoothing: { type: 'number', minimum: 0, maximum: 0.999 },
    clipNorm: { type: 'number', exclusiveMinimum: 0, maximum: 1e9 },
    epochs: { type: 'integer', minimum: 1, maximum: 100000 },
    steps: { type: 'integer', minimum: 1, maximum: 1000000000 },
    batchSize: { type: 'integer', minimum: 1, maximum: 65536 },
    seed: { type: 'integer', minimum: 0, maximum: 2147483647 },
    evaluate: { type: 'boolean' },
    earlyStopping: obj('{ metric, patience, mode?, minDelta? }'),
    scheduledSampling: obj('{ decay: { kind, ... }, unit? } (seq2seq)'),
    checkpoint: {
      type: 'object', additionalProperties: false,
      properties: {
        every: { type: 'integer', minimum: 1, maximum: 1000000000, description: 'optimizer steps between checkpoints' },
        keep: { type: 'integer', minimum: 1, maximum: 100, description: 'checkpoints kept' },
      },
    },
    threads: { type: 'integer', minimum: 1, maximum: 1024, description: 'native threads for this job (default KILN_THREADS or the cores)' },
    memoryMb: { type: 'integer', minimum: 64, maximum: 1048576, description: 'the job\'s memory limit (default and ceiling KILN_JOB_MEMORY_MB)' },
  },
} as const;

const nullable = (t: string) => ({ type: [t, 'null'] }) as const;

export const jobSchema = {
  $id: 'Job',
  type: 'object',
  required: ['id', 'number', 'state', 'createdAt', 'progress', 'summary'],
  properties: {
    id: { type: 'string' },
    number: { type: 'integer', description: 'submission order; the pagination cursor' },
    name: nullable('string'),
    state: { type: 'string', enum: [...JOB_STATES] },
    createdAt: { type: 'string', description: 'ISO 8601' },
    updatedAt: { type: 'string' },
    startedAt: nullable('string'),
    finishedAt: nullable('string'),
    progress: {
      type: 'object',
      properties: { step: { type: 'integer' }, totalSteps: nullable('integer'), epoch: { type: 'number' }, fraction: nullable('number') },
    },
    threads: { type: 'integer' },
    memoryMb: { type: 'integer' },
    attempts: { type: 'integer', description: 'worker starts (more than 1 after a pause or a crash)' },
    checkpointStep: nullable('integer'),
    error: nullable('string'),
    summary: { type: 'object', additionalProperties: true },
    result: { type: ['object', 'null'], additionalProperties: true },
    spec: { type: 'object', additionalProperties: true },
  },
} as const;

export const jobStateQuery = { type: 'string', enum: [...JOB_STATES] } as const;
