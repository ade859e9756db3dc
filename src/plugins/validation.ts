// Request validation. Query strings, params and headers are text, so their schemas coerce
// ("10" -> 10); bodies are JSON and are taken as they are: a string where a number belongs and a
// field nobody knows are both 400s naming the field, never silently fixed or dropped.
import { Ajv, type Options } from 'ajv';
import type { FastifyInstance } from 'fastify';

const common: Options = { allErrors: false, strict: false, useDefaults: true };

export function useValidators(app: FastifyInstance): void {
  const body = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const text = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });
  for (const ajv of [body, text]) for (const s of Object.values(app.getSchemas())) ajv.addSchema(s as object);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema));
}
