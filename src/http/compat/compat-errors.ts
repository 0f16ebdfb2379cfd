// The seed-compatible route sets answer errors as `{"message": "…"}` (or `{"msg": "…"}`) with the
// same status as the core API. Each set installs this in its own plugin scope.
import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyInstance } from 'fastify';
import Type from 'typebox';
import { ERRORS } from '../../domain/errors.ts';
import { setRetryAfter, toAppError } from '../errors.ts';
import { toFieldErrors } from '../validation.ts';

export type CompatShape = 'message' | 'msg';

export const compatErrorBody = (shape: CompatShape) => Type.Object({ [shape]: Type.String() }, { description: 'An error' });

export interface CompatErrorOptions {
  /** The status of invalid input: 422 like the core API, or 400 where the seed says so. */
  invalidStatus?: 400 | 422;
  /** What to say when a required field is missing, where the seed has one phrase for it. */
  missingMessage?: string;
}

export function installCompatErrors(app: FastifyInstance, shape: CompatShape, options: CompatErrorOptions = {}) {
  const body = (message: string) => ({ [shape]: message });
  const invalid = options.invalidStatus ?? 422;
  const say = (message: string | undefined) => (options.missingMessage && message?.endsWith(' is required') ? options.missingMessage : (message ?? 'Invalid request'));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      // A seed with one phrase for "missing" counts an empty or null value as missing too.
      const missing = (error.validation as ErrorObject[]).some((e) => e.keyword === 'required' || e.data === '' || e.data === null);
      if (options.missingMessage && missing) return reply.code(invalid).send(body(options.missingMessage));
      const [first] = toFieldErrors(error.validation as never, request.routeOptions.schema, error.validationContext ?? 'body');
      return reply.code(invalid).send(body(say(first?.message)));
    }
    const known = toAppError(error);
    if (known && 'errors' in known) return reply.code(invalid).send(body(say(known.errors[0]?.message)));
    if (known) {
      setRetryAfter(reply, known);
      return reply.code(known.status).send(body(known.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(body(ERRORS.INTERNAL.message));
  });
}
