import { beforeEach, describe, expect, it } from 'vitest';
import { createBaseQuery, queryString, type Transport } from './baseQuery';
import * as session from './session';

const HOUR = 3_600_000;

function pair(n: number, expiresAt: number) {
  return {
    accessToken: `access-${n}`,
    accessTokenExpiresAt: new Date(expiresAt).toISOString(),
    refreshToken: `refresh-${n}`,
    refreshTokenExpiresAt: new Date(expiresAt + HOUR).toISOString(),
  };
}

/** A stand-in for the edge that records every request and answers from `handle`. */
function edge(handle: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const calls: Array<{ url: string; authorization: string | null; body: string | null }> = [];
  const signedOut: string[] = [];
  const transport: Transport = {
    fetch: async (input, init = {}) => {
      const url = String(input);
      calls.push({
        url,
        authorization: new Headers(init.headers).get('authorization'),
        body: typeof init.body === 'string' ? init.body : null,
      });
      return handle(url, init);
    },
    locks: null,
    now: () => 1_000_000,
    onSignedOut: (reason) => signedOut.push(reason),
  };
  return { transport, calls, signedOut };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const api = { signal: new AbortController().signal } as Parameters<ReturnType<typeof createBaseQuery>>[1];

beforeEach(() => {
  session.clearTokens();
});

describe('the base query', () => {
  it('repeats a key for each item of a list, as the transcoder reads it', () => {
    expect(queryString({ userIds: ['1', '2'], limit: 5, cursor: undefined })).toBe('?userIds=1&userIds=2&limit=5');
    expect(queryString({})).toBe('');
  });

  it('sends the access token as a bearer header', async () => {
    session.storeTokens(pair(1, 1_000_000 + HOUR));
    const { transport, calls } = edge(() => json(200, { ok: true }));
    const result = await createBaseQuery(transport)('/v1/profile', api, {});
    expect(result).toEqual({ data: { ok: true } });
    expect(calls[0]?.authorization).toBe('Bearer access-1');
  });

  it('refreshes once for concurrent 401s and retries each request once', async () => {
    session.storeTokens(pair(1, 1_000_000 + HOUR));
    const { transport, calls } = edge((url, init) => {
      if (url === '/v1/auth/refresh') return json(200, { tokens: pair(2, 1_000_000 + 2 * HOUR) });
      const auth = new Headers(init.headers).get('authorization');
      return auth === 'Bearer access-2' ? json(200, { url }) : json(401, { code: 16, message: 'expired' });
    });
    const query = createBaseQuery(transport);
    const results = await Promise.all([query('/v1/profile', api, {}), query('/v1/timeline/home', api, {})]);
    expect(results.map((r) => 'data' in r)).toEqual([true, true]);
    expect(calls.filter((c) => c.url === '/v1/auth/refresh')).toHaveLength(1);
    expect(session.refreshToken()).toBe('refresh-2');
  });

  it('refreshes before sending when the access token is about to expire', async () => {
    session.storeTokens(pair(1, 1_000_000 + 10_000));
    const { transport, calls } = edge((url) =>
      url === '/v1/auth/refresh' ? json(200, { tokens: pair(2, 1_000_000 + HOUR) }) : json(200, {}),
    );
    await createBaseQuery(transport)('/v1/profile', api, {});
    expect(calls.map((c) => c.url)).toEqual(['/v1/auth/refresh', '/v1/profile']);
    expect(calls[1]?.authorization).toBe('Bearer access-2');
  });

  it('adopts the pair another tab rotated instead of reusing the old refresh token', async () => {
    session.storeTokens(pair(1, 1_000_000 - 1));
    const { transport, calls } = edge((url, init) => {
      if (url !== '/v1/auth/refresh') return json(200, {});
      const { refreshToken } = JSON.parse(String(init.body)) as { refreshToken: string };
      if (refreshToken === 'refresh-1') {
        // Meanwhile another tab used refresh-1 and stored its new pair.
        localStorage.setItem('xir.refreshToken', 'refresh-2');
        return json(401, { code: 16, message: 'reused' });
      }
      return json(200, { tokens: pair(3, 1_000_000 + HOUR) });
    });
    const result = await createBaseQuery(transport)('/v1/profile', api, {});
    expect('data' in result).toBe(true);
    const used = calls.filter((c) => c.url === '/v1/auth/refresh').map((c) => JSON.parse(c.body ?? '{}').refreshToken);
    expect(used).toEqual(['refresh-1', 'refresh-2']);
    expect(session.refreshToken()).toBe('refresh-3');
  });

  it('signs out with a clear message when the refresh is refused', async () => {
    session.storeTokens(pair(1, 1_000_000 + HOUR));
    const { transport, signedOut } = edge((url) =>
      url === '/v1/auth/refresh' ? json(401, { code: 16, message: 'revoked' }) : json(401, { code: 16, message: 'expired' }),
    );
    const result = await createBaseQuery(transport)('/v1/profile', api, {});
    expect('error' in result && result.error?.status).toBe(401);
    expect(signedOut).toEqual(['Your session ended. Please sign in again.']);
    expect(session.refreshToken()).toBeNull();
  });

  it('turns an unreachable server into a status-0 error', async () => {
    const transport = edge(() => {
      throw new TypeError('network down');
    }).transport;
    const result = await createBaseQuery(transport)('/v1/profile', api, {});
    expect('error' in result && result.error?.status).toBe(0);
  });
});
