// The session over time, with the stack's short access-token lifetime (web_journey.rs sets
// it): two pages of one browser stay signed in across refreshes (one refresh at a time, the
// other page adopting the rotated pair), and a draft survives a reload and a sign-out.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WEB_URL, auditState, launch, openPage } from './browser.mjs';
import { PASSWORD, nav, shows, signUp, uniqueName } from './steps.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Resolves with the statuses of the page's refreshes once it has made `count` of them. */
function refreshes(page, count, timeoutMs) {
  const statuses = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${statuses.length} refreshes: ${statuses}`)), timeoutMs);
    page.on('response', (response) => {
      if (!response.url().endsWith('/v1/auth/refresh')) return;
      statuses.push(response.status());
      if (statuses.length >= count) {
        clearTimeout(timer);
        resolve(statuses);
      }
    });
  });
}

test('two pages of one browser stay signed in while their tokens are refreshed', async () => {
  const first = await openPage(browser);
  await signUp(first.page, uniqueName('tabs'));
  // A second page of the same browser: no access token yet, so it refreshes at once, under
  // the lock, rotating the pair the first page holds.
  const page2 = await first.context.newPage();
  const second = { page: page2 };
  const secondRefreshes = refreshes(page2, 2, 120_000);
  const firstRefreshes = refreshes(first.page, 1, 120_000);
  await page2.goto(`${WEB_URL}/`);
  await page2.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  // Both keep polling (home every 15 s); as their access tokens near expiry each refreshes.
  assert.deepEqual(await firstRefreshes, [200]);
  assert.deepEqual(await secondRefreshes, [200, 200]);
  // Both still signed in: each reads its notifications.
  for (const page of [first.page, second.page]) {
    await nav(page, 'Notifications').click();
    await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
    await shows(page.getByText('No notifications yet.'));
    assert.equal(await page.getByText('Your session ended').count(), 0);
  }
  assert.deepEqual(first.problems, []);
  await first.context.close();
});

test('a draft survives a reload and a sign-out', async () => {
  const session = await openPage(browser);
  const { page, context, problems } = session;
  const username = uniqueName('draft');
  await signUp(page, username);
  await page.getByLabel('What is happening?').fill('half a thought');
  await session.idle();
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  assert.equal(await page.getByLabel('What is happening?').inputValue(), 'half a thought');

  await nav(page, 'Settings').click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await auditState(page, context, problems, 'settings');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  await auditState(page, context, problems, 'login');
  await page.goto(`${WEB_URL}/no/such/page`);
  await page.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
  await auditState(page, context, problems, 'not-found');
  await page.goto(`${WEB_URL}/login`);
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  assert.equal(await page.getByLabel('What is happening?').inputValue(), 'half a thought');
  assert.deepEqual(problems, []);
  await context.close();
});
