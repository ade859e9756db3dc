// A job's checkpoints (GET /v1/jobs/:id/checkpoints) and their weights as a safetensors download
// (GET /v1/jobs/:id/weights[?step=n]), streamed from the file.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';

import { errorResponse, KilnError } from '../src/errors.js';
import { listCheckpoints } from '../src/jobs/checkpoints.js';
import { jobIdParams } from '../src/schemas/job.js';
import { checkpointList } from '../src/schemas/predict.js';

// the other error answers are declared for every route by plugins/route-errors.ts

const checkpointRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { id: string } }>('/v1/jobs/:id/checkpoints', {
    schema: { tags: ['jobs'], summary: 'A job\'s checkpoints, oldest first (the job keeps its newest checkpoint.keep)', params: jobIdParams, response: { 200: checkpointList } },
  }, async (req) => {
    const job = app.jobs.get(req.params.id);
    const list = await listCheckpoints(app.jobs.jobDir(job.id));
    return { checkpoints: list.map(({ dir: _dir, ...c }) => c) };
  });

  app.get<{ Params: { id: string }; Querystring: { step?: number } }>('/v1/jobs/:id/weights', {
    schema: {
      tags: ['jobs'],
      summary: 'Download a checkpoint\'s weights (safetensors)',
      description: 'The model\'s tensors under PyTorch state_dict names (a preset ResNet loads into torchvision\'s module). ' +
        'Without step: the latest checkpoint. ETag is the file\'s SHA-256.',
      params: jobIdParams,
      querystring: { type: 'object', additionalProperties: false, properties: { step: { type: 'integer', minimum: 0, maximum: 1000000000 } } },
      response: { 200: { description: 'the safetensors file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        404: errorResponse('no such job, or it has no checkpoint (at that step)'),
      },
    },
  }, async (req, reply) => {
    const job = app.jobs.get(req.params.id);
    const list = await listCheckpoints(app.jobs.jobDir(job.id));
    const want = req.query.step;
    const ck = want === undefined ? list.find((c) => c.latest) : list.find((c) => c.step === want);
    if (!ck) {
      const have = list.length ? `it has steps ${list.map((c) => c.step).join(', ')}` : 'it has none yet';
      throw new KilnError('KILN_ERR_NOT_FOUND', want === undefined ? `job ${job.id} has no checkpoint yet` : `job ${job.id} has no checkpoint at step ${want}; ${have}`);
    }
    // opened first: a checkpoint pruned while it streams stays readable through the open file
    let file;
    try {
      file = await open(join(ck.dir, 'model.safetensors'), 'r');
    } catch {
      throw new KilnError('KILN_ERR_NOT_FOUND', `job ${job.id}'s checkpoint at step ${ck.step} was just removed (it keeps its newest checkpoints only)`);
    }
    const { size } = await file.stat();
    return reply
      .type('application/octet-stream')
      .header('content-length', size)
      .header('content-disposition', `attachment; filename="${job.id}-step${ck.step}.safetensors"`)
      .header('etag', `"${ck.sha256}"`)
      .send(file.createReadStream());
  });
};

export default checkpointRoutes;
