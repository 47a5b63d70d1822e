import { describe, expect, it } from 'vitest';
import { parseApiError, violationsOf } from './errors';

describe('errors from the edge', () => {
  it('names each bad field of a 400', () => {
    const error = parseApiError(
      400,
      {
        code: 3,
        message: 'text: must not be empty; idempotency_key: too long',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.BadRequest',
            fieldViolations: [
              { field: 'text', description: 'must not be empty' },
              { field: 'idempotency_key', description: 'too long' },
            ],
          },
        ],
      },
      null,
    );
    expect(error.status).toBe(400);
    expect(violationsOf(error, 'text')).toEqual(['must not be empty']);
    expect(error.fieldViolations.map((v) => v.field)).toEqual(['text', 'idempotency_key']);
  });

  it('says which resource a 409 found taken', () => {
    const error = parseApiError(
      409,
      {
        code: 6,
        message: 'username is already taken',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ResourceInfo', resourceType: 'account', resourceName: 'username' }],
      },
      null,
    );
    expect(error.taken).toBe('username');
    expect(error.message).toBe('username is already taken');
  });

  it('keeps the seconds a 429 asks to wait', () => {
    const error = parseApiError(429, { code: 8, message: 'too many' }, '7');
    expect(error.retryAfterSecs).toBe(7);
  });

  it('explains a body that is not a status', () => {
    const error = parseApiError(502, '<html>bad gateway</html>', null);
    expect(error.message).toMatch(/on our side/);
    expect(error.fieldViolations).toEqual([]);
  });
});
