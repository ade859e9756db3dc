// JSON schemas of the prediction and checkpoint routes. The predict body is one object whose
// fields belong to one of three kinds (images, sequences, prompt): the worker checks that the
// body's kind is the job's and names what the job expects when it is not. Every array, string and
// number is bounded here, so no request can ask for unbounded work.

/** Decoded images larger than this per side are refused (src/predict/images.ts MAX_IMAGE_SIDE). */
const MAX_SIDE = 4096;

const image = {
  type: 'object',
  description: 'a PNG or JPEG file as base64 (a data: URL prefix is allowed), or raw bytes in CHW order with their shape',
  oneOf: [
    {
      type: 'object', required: ['base64'], additionalProperties: false,
      properties: { base64: { type: 'string', minLength: 1, maxLength: 8 << 20 } },
    },
    {
      type: 'object', required: ['pixels', 'shape'], additionalProperties: false,
      properties: {
        pixels: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 1, maxItems: 3 << 20 },
        shape: {
          type: 'array', description: '[channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), height, width]',
          items: { type: 'integer', minimum: 1, maximum: MAX_SIDE }, minItems: 3, maxItems: 3,
        },
      },
    },
  ],
} as const;

export const predictBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  description: 'One of: an image classifier\'s { images, topK? }; a seq2seq model\'s { sequences, beamWidth?, lengthPenalty?, maxLength? }; ' +
    'a language model\'s { prompt, maxTokens?, temperature?, topK?, seed? }.',
  properties: {
    images: { type: 'array', items: image, minItems: 1, maxItems: 64, description: 'classifier: images, converted to the model\'s channels and size and normalized as its training data was' },
    topK: { type: 'integer', minimum: 0, maximum: 100000, description: 'classifier: classes listed in top (default 5, 0 = all); language model: sample among the k most likely tokens (default 0 = all)' },
    sequences: { type: 'array', items: { type: 'string', maxLength: 10000 }, minItems: 1, maxItems: 64, description: 'seq2seq: source texts' },
    beamWidth: { type: 'integer', minimum: 1, maximum: 16, description: 'seq2seq: 1 (default) is greedy decoding' },
    lengthPenalty: { type: 'number', minimum: 0, maximum: 5, description: 'seq2seq: alpha of the GNMT length penalty (default 0.6)' },
    maxLength: { type: 'integer', minimum: 1, maximum: 1024, description: 'seq2seq: tokens generated at most, end token included (default 64; at most the model\'s maxLen)' },
    prompt: { type: 'string', maxLength: 10000, description: 'language model: the text to continue' },
    maxTokens: { type: 'integer', minimum: 1, maximum: 1024, description: 'language model: tokens to generate (default 100)' },
    temperature: { type: 'number', minimum: 0, maximum: 10, description: 'language model: softmax temperature (default 1; 0 = the most likely token)' },
    seed: { type: 'integer', minimum: 0, maximum: 2147483647, description: 'language model: the sampling seed (default 0); the same seed gives the same text' },
  },
} as const;

export const predictResponse = {
  type: 'object',
  required: ['kind', 'results'],
  properties: {
    kind: { type: 'string', enum: ['classify', 'decode', 'generate'] },
    step: { type: 'integer', description: 'the checkpoint\'s step whose weights answered' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          top: {
            type: 'array',
            items: { type: 'object', properties: { class: { type: 'integer' }, label: { type: 'string' }, probability: { type: 'number' } } },
          },
          probabilities: { type: 'array', items: { type: 'number' }, description: 'classify: every class, in class order' },
          output: { type: 'string', description: 'decode, generate: the text' },
          tokens: { type: 'array', items: { type: 'integer' }, description: 'decode, generate: its token ids' },
          score: { type: 'number', description: 'decode: log-probability / length penalty' },
          finished: { type: 'boolean', description: 'decode: ended with the end token (false: cut at maxLength)' },
        },
      },
    },
  },
} as const;

export const checkpointList = {
  type: 'object',
  required: ['checkpoints'],
  properties: {
    checkpoints: {
      type: 'array',
      items: {
        type: 'object',
        required: ['step', 'epoch', 'createdAt', 'bytes'],
        properties: {
          step: { type: 'integer' },
          epoch: { type: 'integer', description: 'epochs completed' },
          createdAt: { type: 'string', description: 'ISO 8601' },
          bytes: { type: 'integer', description: 'size of its weights (what GET /v1/jobs/:id/weights?step= downloads)' },
          sha256: { type: 'string', description: 'SHA-256 of the weights file' },
          latest: { type: 'boolean', description: 'the checkpoint predictions and the default download use' },
        },
      },
    },
  },
} as const;
