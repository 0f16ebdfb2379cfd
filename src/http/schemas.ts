// Shared pieces of every route's contract: the envelopes of the API and the common parameters.
import Type, { type TSchema } from 'typebox';
import type { User } from '../domain/accounts/types.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../domain/pagination.ts';

export const ErrorBody = Type.Object(
  {
    status: Type.String({ examples: ['Not found'] }),
    message: Type.String(),
    statusCode: Type.Integer(),
    code: Type.String({ examples: ['ORGANISATION_NOT_FOUND'] }),
    requestId: Type.String(),
  },
  { description: 'An error' },
);

export const ValidationErrorBody = Type.Object(
  { errors: Type.Array(Type.Object({ field: Type.String(), message: Type.String() })) },
  { description: 'One entry per invalid field, in the order the route lists its fields' },
);

export const success = <T extends TSchema>(data: T, description = 'Success') =>
  Type.Object({ status: Type.Literal('success'), message: Type.String(), data }, { description });

export const ok = <T>(message: string, data: T) => ({ status: 'success' as const, message, data });

export const Uuid = Type.String({ format: 'uuid' });

/** A string from a fixed list, as one JSON Schema `enum`: a wrong value is told every allowed one. */
export const StringEnum = <T extends string>(values: readonly T[], options: { description?: string } = {}) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

export const NextCursor = Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last one' });

export const PublicUser = Type.Object({
  userId: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
});

export const publicUser = (user: Pick<User, 'id' | 'firstName' | 'lastName' | 'email' | 'phone'>) => ({
  userId: user.id,
  firstName: user.firstName,
  lastName: user.lastName,
  email: user.email,
  phone: user.phone,
});
