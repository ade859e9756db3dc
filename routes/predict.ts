// POST /v1/jobs/:id/predict: a trained job's model answers (images classified, sequences decoded,
// text generated) in the predict worker, with the weights of the job's latest checkpoint.
import type { FastifyPluginAsync } from 'fastify';

import { errorResponse, invalid, KilnError } from '../src/errors.js';
import { latestCheckpoint } from '../src/jobs/checkpoints.js';
import type { PredictBody } from '../src/predict/predictor.js';
import { jobIdParams } from '../src/schemas/job.js';
import { predictBody, predictResponse } from '../src/schemas/predict.js';

/** States whose weights are final for now: nothing is training them. */
const READY = new Set(['succeeded', 'paused', 'cancelled']);
const KINDS = ['images', 'sequences', 'prompt'] as const;

const predictRoutes: FastifyPluginAsync = async (app) => {
  app.post<{ Params: { id: string }; Body: PredictBody }>('/v1/jobs/:id/predict', {
    // images as base64 or pixel arrays outgrow the 1 MiB of other bodies; 8 MiB keeps
    // the JSON parse on the HTTP thread short
    bodyLimit: 8 << 20,
    schema: {
      tags: ['predict'],
      summary: 'Predict with a trained job\'s model',
      description: 'The job must be succeeded, or paused or cancelled with a checkpoint (else 409); its latest checkpoint answers. ' +
        'Image classifiers take { images: [{ base64 } | { pixels, shape }], topK? }; seq2seq models { sequences, beamWidth?, lengthPenalty?, maxLength? } (beamWidth 1 is greedy); ' +
        'language models { prompt, maxTokens?, temperature?, topK?, seed? }. A body of another kind is a 400 naming what the job expects. ' +
        'The model runs in a worker thread (built once per checkpoint and kept), within a time limit (504 past it).',
      params: jobIdParams,
      body: predictBody,
      response: {
        200: predictResponse,
        409: errorResponse('the job is not succeeded, paused or cancelled, or has no checkpoint'),
        500: errorResponse('the model could not be loaded, or the prediction ran out of the worker\'s memory'),
        503: errorResponse('the server is shutting down, or too many predictions are waiting'),
        504: errorResponse('the prediction took longer than its time limit'),
      },
    },
  }, async (req) => {
    const job = app.jobs.get(req.params.id);
    const given = KINDS.filter((k) => req.body[k] !== undefined);
    if (given.length !== 1) invalid(`the body must have exactly one of 'images' (an image classifier), 'sequences' (a seq2seq model) or 'prompt' (a language model); got ${given.length ? given.map((k) => `'${k}'`).join(' and ') : 'none'}`);
    if (!READY.has(job.state)) throw new KilnError('KILN_ERR_CONFLICT', `job ${job.id} is ${job.state}: predictions need a succeeded job, or a paused or cancelled one with a checkpoint`);
    const ck = await latestCheckpoint(app.jobs.jobDir(job.id));
    if (!ck) throw new KilnError('KILN_ERR_CONFLICT', `job ${job.id} is ${job.state} without a checkpoint: it has no weights to predict with`);
    const { result, step } = await app.predictions.predict(job.id, ck.dir, req.body);
    return { ...(result as object), step };
  });
};

export default predictRoutes;
