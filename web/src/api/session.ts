// Where the tokens live: the access token in memory only, the refresh token in localStorage
// (the edge carries JSON bodies, not cookies; a strict CSP, no innerHTML and family
// revocation are the mitigation).

import type { TokenPair } from './types';

const REFRESH_KEY = 'xir.refreshToken';

export interface AccessToken {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

let access: AccessToken | null = null;

export function accessToken(): AccessToken | null {
  return access;
}

export function refreshToken(): string | null {
  return globalThis.localStorage?.getItem(REFRESH_KEY) ?? null;
}

export function storeTokens(pair: TokenPair): void {
  access = { token: pair.accessToken, expiresAt: Date.parse(pair.accessTokenExpiresAt) };
  globalThis.localStorage?.setItem(REFRESH_KEY, pair.refreshToken);
}

export function clearTokens(): void {
  access = null;
  globalThis.localStorage?.removeItem(REFRESH_KEY);
}

/** True when the access token is missing or expires within `marginMs`. */
export function accessExpiresSoon(now: number, marginMs = 30_000): boolean {
  return access === null || access.expiresAt - now < marginMs;
}
