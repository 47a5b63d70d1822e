// Every request of the client goes through here: the bearer token, query strings the edge
// understands (a repeated key for a list: `userIds=1&userIds=2`), the access token refreshed
// before it expires and after any 401 (the request then retried once), one refresh at a time
// in this tab and across tabs, and errors parsed into `ApiError`.

import type { BaseQueryFn, FetchArgs } from '@reduxjs/toolkit/query';
import { parseApiError, type ApiError } from './errors';
import * as session from './session';
import type { TokenPair } from './types';

export type Query = string | (Omit<FetchArgs, 'params'> & { params?: Params });
export type Params = Record<string, string | number | boolean | ReadonlyArray<string> | undefined>;

/** `a=1&b=x&ids=1&ids=2`: lists as repeated keys (what the gRPC-JSON transcoder reads). */
export function queryString(params: Params): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value as ReadonlyArray<string>) search.append(key, item);
    } else {
      search.append(key, String(value));
    }
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export interface Transport {
  fetch: typeof fetch;
  /** Serialises refreshes across tabs (Web Locks); `null` where the browser has none. */
  locks: { request<T>(name: string, callback: () => Promise<T>): Promise<T> } | null;
  now: () => number;
  /** Told when the session ended (a failed refresh): the app signs out and says why. */
  onSignedOut: (reason: string) => void;
}

export function browserTransport(onSignedOut: (reason: string) => void): Transport {
  const locks = typeof navigator !== 'undefined' && 'locks' in navigator ? navigator.locks : null;
  return {
    fetch: (input, init) => globalThis.fetch(input, init),
    locks: locks
      ? { request: (name, callback) => locks.request(name, callback) as Promise<never> }
      : null,
    now: () => Date.now(),
    onSignedOut,
  };
}

const REFRESH_LOCK = 'xir.refresh';

/** Builds the base query over `transport` (tests pass their own). */
export function createBaseQuery(transport: Transport): BaseQueryFn<Query, unknown, ApiError> {
  let refreshing: Promise<boolean> | null = null;

  /**
   * One refresh at a time; concurrent callers share its outcome. `stale` is the access token
   * that expired or was refused: when the session already holds another, someone refreshed.
   */
  const refresh = (stale: string | null): Promise<boolean> => {
    refreshing ??= refreshAcrossTabs(transport, stale).finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  const send = async (query: Query, signal: AbortSignal): Promise<Response> => {
    const args = typeof query === 'string' ? { url: query } : query;
    const headers = new Headers(args.headers as HeadersInit | undefined);
    const access = session.accessToken();
    if (access) headers.set('authorization', `Bearer ${access.token}`);
    let body: BodyInit | undefined;
    if (args.body !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(args.body);
    }
    const url = args.url + (args.params ? queryString(args.params) : '');
    return transport.fetch(url, {
      method: args.method ?? 'GET',
      headers,
      ...(body === undefined ? {} : { body }),
      signal,
    });
  };

  return async (query, api) => {
    const signedIn = session.refreshToken() !== null;
    const current = () => session.accessToken()?.token ?? null;
    if (signedIn && session.accessExpiresSoon(transport.now())) await refresh(current());
    let response: Response;
    try {
      const sentWith = current();
      response = await send(query, api.signal);
      if (response.status === 401 && session.refreshToken() !== null && (await refresh(sentWith))) {
        response = await send(query, api.signal);
      }
    } catch {
      return { error: parseApiError(0, null, null) };
    }
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (!response.ok) {
      return { error: parseApiError(response.status, json, response.headers.get('retry-after')) };
    }
    return { data: json };
  };
}

/**
 * Refreshes the session unless another tab already did. A refresh token works once: a
 * reused one revokes the whole family, so tabs take turns under a lock, and a tab that finds
 * the stored refresh token changed adopts the new pair's refresh token and refreshes with it.
 */
async function refreshAcrossTabs(transport: Transport, stale: string | null): Promise<boolean> {
  const run = async (): Promise<boolean> => {
    const token = session.refreshToken();
    if (token === null) return false;
    const held = session.accessToken();
    if (held && held.token !== stale && !session.accessExpiresSoon(transport.now())) {
      return true; // refreshed meanwhile
    }
    let response: Response;
    try {
      response = await transport.fetch('/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: token }),
      });
    } catch {
      return false; // offline: keep the session, the request fails on its own
    }
    if (!response.ok) {
      // Another tab may have rotated it while we waited: its pair is in storage now.
      if (session.refreshToken() !== token) return run();
      session.clearTokens();
      transport.onSignedOut('Your session ended. Please sign in again.');
      return false;
    }
    const body = (await response.json()) as { tokens?: TokenPair };
    if (!body.tokens) return false;
    session.storeTokens(body.tokens);
    return true;
  };
  return transport.locks ? transport.locks.request(REFRESH_LOCK, run) : run();
}
