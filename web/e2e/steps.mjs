// Steps the journeys share. Every wait is on something the page shows or a response it gets,
// with a deadline; none is a fixed sleep.

import assert from 'node:assert/strict';
import { errors } from 'playwright-core';
import { WEB_URL } from './browser.mjs';

export const PASSWORD = 'correct horse battery';

/** A name no other run of the suite used (usernames are at most 15 characters). */
export function uniqueName(prefix) {
  return `${prefix}_${(Date.now() % 1_000_000).toString(36)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`.slice(0, 15);
}

export async function signUp(page, username) {
  await page.goto(`${WEB_URL}/signup`);
  await page.getByRole('heading', { level: 1, name: 'Sign up' }).waitFor();
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Email', { exact: true }).fill(`${username}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  const signedUp = page.waitForResponse((response) => response.url().endsWith('/v1/auth/signup'));
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  const body = await (await signedUp).json();
  await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  return body.userId;
}

/** Signs up through the edge (as another client would): the account's id and access token. */
export async function signUpOverRest(username) {
  const reply = await fetch(`${WEB_URL}/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, email: `${username}@example.com`, password: PASSWORD }),
  });
  assert.equal(reply.status, 200, await reply.clone().text());
  const body = await reply.json();
  return { id: body.userId, token: body.tokens.accessToken };
}

/** Posts `text` through the edge as `account`. */
export async function postOverRest(account, text) {
  const reply = await fetch(`${WEB_URL}/v1/tweets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
    body: JSON.stringify({ text }),
  });
  assert.equal(reply.status, 200, await reply.clone().text());
}

/** Reloads the page until `locator` shows, giving each load a few seconds to fetch and
 * render: a look at once could come between two requests (a reloaded page refreshes its
 * token first, then asks for the list) and miss, reload after reload. It reloads only after
 * every request in flight has ended: a reload that cut a token refresh short would lose the
 * rotated pair. */
export async function reloadUntil(session, what, locator, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await appears(locator))) {
    assert.ok(Date.now() < deadline, `never: ${what}`);
    await session.idle();
    await session.page.reload();
    await session.page.getByRole('heading', { level: 1 }).waitFor();
  }
}

/** Whether (the first of) `locator` becomes visible within `timeoutMs`. */
async function appears(locator, timeoutMs = 5_000) {
  try {
    await shows(locator.first(), timeoutMs);
    return true;
  } catch (error) {
    if (error instanceof errors.TimeoutError) return false;
    throw error;
  }
}

/** Waits until `locator` is visible, for up to `timeoutMs`. */
export async function shows(locator, timeoutMs = 30_000) {
  await locator.waitFor({ state: 'visible', timeout: timeoutMs });
}

export function nav(page, name, exact = true) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact });
}

/** The feed article that holds `text`. */
export function articleWith(page, text, feed = page.getByRole('feed').first()) {
  return feed.getByRole('article').filter({ hasText: text }).first();
}
