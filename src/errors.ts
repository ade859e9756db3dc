// One registry of the errors the API can answer with. Every error a client sees has a stable
// code (KILN_ERR_*), an HTTP status and a message; 5xx answers never echo internals.

export const errorCodes = {
  KILN_ERR_VALIDATION: { status: 400, message: 'the request is invalid' },
  KILN_ERR_UNAUTHORIZED: { status: 401, message: 'this route needs an API key: Authorization: Bearer <token>' },
  KILN_ERR_FORBIDDEN: { status: 403, message: 'this API key may not do that' },
  KILN_ERR_NOT_FOUND: { status: 404, message: 'no such resource' },
  KILN_ERR_CONFLICT: { status: 409, message: 'the request conflicts with the resource\'s state' },
  KILN_ERR_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  KILN_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported content-type' },
  KILN_ERR_RATE_LIMITED: { status: 429, message: 'too many requests' },
  KILN_ERR_INTERNAL: { status: 500, message: 'internal error' },
  KILN_ERR_UNAVAILABLE: { status: 503, message: 'the server is shutting down' },
  KILN_ERR_TIMEOUT: { status: 504, message: 'the work took longer than its time limit' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class KilnError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? errorCodes[code].message);
    this.name = 'KilnError';
    this.code = code;
    this.statusCode = errorCodes[code].status;
    this.details = details;
  }
}

/** Throws the validation error (400) for user input that does not fit: a spec, a shape, a file. */
export function invalid(message: string, details?: unknown): never {
  throw new KilnError('KILN_ERR_VALIDATION', message, details);
}

/** The body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export const errorBodySchema = {
  $id: 'ErrorBody',
  type: 'object',
  description: 'every error answer: a stable code, a message for people, and details for some',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      // details: any JSON (what a validation error found, the jobs that use a data set)
      properties: { code: { type: 'string', enum: Object.keys(errorCodes) }, message: { type: 'string' }, details: {} },
    },
  },
} as const;

/** A response schema for an error status: the ErrorBody, with what this status means here. */
export const errorResponse = (description: string) => ({ description, $ref: 'ErrorBody#' }) as const;
