// GET /v1/datasets: the built-in and generated data sets jobs can train on, and the sets users
// uploaded, with their shapes, classes, sizes and state. POST /v1/datasets uploads a set,
// GET/DELETE /v1/datasets/:name reads or removes one.
//
// Why one multipart request per upload (not create + PUT each file + commit): a set exists fully
// checked or not at all, so there is no half-uploaded state to track, expire or clean after a
// client that went away; it is still streamed (busboy hands each file part over as it arrives,
// straight to disk or to the archive extractor) and it is one curl command:
//   curl -F train-images=@train-images-idx3-ubyte.gz -F train-labels=@train-labels-idx1-ubyte.gz \
//        'http://127.0.0.1:3000/v1/datasets?name=digits&format=idx'
// The name and format ride in the query string so they are checked before any byte is read.
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync } from 'fastify';

import type { DatasetRecord } from '../src/datasets/catalog.js';
import { FORMATS, UPLOAD_FORMATS, type UploadFormat } from '../src/datasets/formats.js';
import { builtinNames, checkDatasetName, NAME_PATTERN } from '../src/datasets/names.js';
import { receiveUpload } from '../src/datasets/receive.js';
import { jobDatasets } from '../src/jobs/data-shape.js';
import { errorResponse, KilnError } from '../src/errors.js';

const datasetSchema = {
  type: 'object',
  required: ['name', 'kind', 'available'],
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['image', 'seq2seq', 'lm'] },
    description: { type: 'string' },
    origin: { type: 'string', enum: ['package', 'generated', 'upload'] },
    format: { type: 'string', enum: [...UPLOAD_FORMATS] },
    shape: { type: 'array', items: { type: 'integer' } },
    classes: { type: 'array', items: { type: 'string' } },
    sizes: { type: 'object', properties: { train: { type: 'integer' }, validation: { type: 'integer' }, test: { type: 'integer' } } },
    available: { type: 'boolean' },
    install: { type: 'string' },
    options: { type: 'array', items: { type: 'string' } },
    state: { type: 'string', enum: ['ready', 'uploading'] },
    bytes: { type: 'integer' },
    createdAt: { type: 'string' },
  },
} as const;

const nameParams = {
  type: 'object', required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

function uploadView(r: DatasetRecord): Record<string, unknown> {
  return {
    name: r.name, kind: r.kind, description: FORMATS[r.format].description, origin: 'upload', format: r.format,
    ...(r.shape ? { shape: r.shape } : {}), ...(r.classes ? { classes: r.classes } : {}), sizes: r.sizes,
    available: true, options: FORMATS[r.format].options, state: r.state, bytes: r.bytes, createdAt: new Date(r.createdAt).toISOString(),
  };
}

const builtins = () => jobDatasets().map((d) => ({ ...d, options: d.options.filter((o) => o !== 'dir') }));

const datasetRoutes: FastifyPluginAsync = async (app) => {
  const limit = app.datasets.limitBytes;
  // Registered here only: the rest of the API keeps its 1 MiB JSON bodies. The file size limit
  // is a backstop one byte above ours (receive.ts counts every part against the limit itself).
  await app.register(multipart, { limits: { fileSize: limit + 1, files: 64, fields: 8, parts: 72, headerPairs: 100 } });

  app.get('/v1/datasets', {
    schema: {
      tags: ['datasets'],
      summary: 'Data sets jobs can use: built-in, generated and uploaded',
      response: { 200: { type: 'object', required: ['datasets'], properties: { datasets: { type: 'array', items: datasetSchema } } } },
    },
  }, async () => ({
    datasets: [
      ...builtins(),
      ...app.datasets.list().map(uploadView),
      ...app.datasets.inProgress().map((u) => ({
        name: u.name, kind: FORMATS[u.format].kind, origin: 'upload', format: u.format, available: false, state: 'uploading', bytes: u.bytes, createdAt: new Date(u.startedAt).toISOString(),
      })),
    ],
  }));

  app.get<{ Params: { name: string } }>('/v1/datasets/:name', {
    schema: { tags: ['datasets'], summary: 'One data set', params: nameParams, response: { 200: datasetSchema } },
  }, async (req) => {
    const b = builtins().find((d) => d.name === req.params.name);
    if (b) return b;
    const r = app.datasets.find(req.params.name);
    if (!r) throw new KilnError('KILN_ERR_NOT_FOUND', `no data set named '${req.params.name}'`);
    return uploadView(r);
  });

  app.post<{ Querystring: { name: string; format: UploadFormat } }>('/v1/datasets', {
    schema: {
      tags: ['datasets'],
      summary: 'Upload a data set (multipart/form-data, one file part per role)',
      description: `Formats and their file parts: ${UPLOAD_FORMATS.map((f) => `${f}: ${FORMATS[f].roles.map((r) => `${r.name}${r.required ? '' : '?'}`).join(', ')}`).join('; ')}. ` +
        'The set is stored only when every file passed its format check; KILN_UPLOAD_LIMIT_MB bounds the request and what archives expand to.',
      querystring: {
        type: 'object', required: ['name', 'format'], additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 200, description: NAME_PATTERN }, format: { type: 'string', enum: [...UPLOAD_FORMATS] } },
      },
      response: {
        201: datasetSchema,
        400: errorResponse('a bad name or format, or a file that fails its format check (the message names the file and what is wrong)'),
        409: errorResponse('a data set of that name exists or is being uploaded'),
        413: errorResponse('the upload, or what its archives expand to, is larger than KILN_UPLOAD_LIMIT_MB'),
        415: errorResponse('the body is not multipart/form-data'),
      },
    },
  }, async (req, reply) => {
    const { name, format } = req.query;
    try {
      checkDatasetName(name);
      if (!req.isMultipart()) throw new KilnError('KILN_ERR_UNSUPPORTED_MEDIA_TYPE', `expected a multipart/form-data body (curl -F ${FORMATS[format].roles[0]!.name}=@<file>), got ${JSON.stringify(req.headers['content-type'] ?? 'none')}`);
      // a declared length over the limit (plus room for the multipart framing) fails before any byte is read
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit + (1 << 20)) throw new KilnError('KILN_ERR_TOO_LARGE', `the upload declares ${declared} bytes, more than the limit of ${limit} bytes (KILN_UPLOAD_LIMIT_MB)`);
      const record = await receiveUpload(app.datasets, { name, format, parts: req.parts(), limitBytes: limit });
      req.log.info({ dataset: name, format, bytes: record.bytes }, 'data set uploaded');
      return reply.status(201).send(uploadView(record));
    } catch (e) {
      // the rest of the body may still be on its way: do not keep reading it
      if (!req.raw.complete) reply.header('connection', 'close');
      throw e;
    }
  });

  app.delete<{ Params: { name: string } }>('/v1/datasets/:name', {
    schema: {
      tags: ['datasets'], summary: 'Delete an uploaded data set and its files', params: nameParams,
      response: { 200: { type: 'object', required: ['name', 'deleted'], properties: { name: { type: 'string' }, deleted: { type: 'boolean' } } },
        409: errorResponse('a built-in set, or one that unfinished jobs use (details.jobs lists them)'),
      },
    },
  }, async (req) => {
    const { name } = req.params;
    if (builtinNames().includes(name)) throw new KilnError('KILN_ERR_CONFLICT', `'${name}' is a built-in data set; only uploaded sets can be deleted`);
    app.datasets.delete(name);
    req.log.info({ dataset: name }, 'data set deleted');
    return { name, deleted: true };
  });
};

export default datasetRoutes;
