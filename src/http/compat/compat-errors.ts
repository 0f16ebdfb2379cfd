// The seed-compatible route sets answer errors as `{"message": "…"}` (or `{"msg": "…"}`) with the
// same status as the core API. Each set installs this in its own plugin scope.
import type { FastifyError, FastifyInstance } from 'fastify';
import Type from 'typebox';
import { ERRORS } from '../../domain/errors.js';
import { toAppError } from '../errors.js';
import { toFieldErrors } from '../validation.js';

export type CompatShape = 'message' | 'msg';

export const compatErrorBody = (shape: CompatShape) => Type.Object({ [shape]: Type.String() }, { description: 'An error' });

export function installCompatErrors(app: FastifyInstance, shape: CompatShape) {
  const body = (message: string) => ({ [shape]: message });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const [first] = toFieldErrors(error.validation as never, request.routeOptions.schema, error.validationContext ?? 'body');
      return reply.code(422).send(body(first?.message ?? 'Invalid request'));
    }
    const known = toAppError(error);
    if (known && 'errors' in known) return reply.code(422).send(body(known.errors[0]?.message ?? 'Invalid request'));
    if (known) return reply.code(known.status).send(body(known.message));
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(body(ERRORS.INTERNAL.message));
  });
}
