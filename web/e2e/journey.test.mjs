// The first journey through the real stack (scripts/dev: nginx with the image's config and
// CSP, the real edge and services): sign up in the browser, post, see the post in the home
// timeline, find it on her profile, reply in its thread, reload and still be signed in; every page state passes the colour audit and
// logs no console error.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WEB_URL, colourAudit, launch, openPage, screenshot } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const unique = `${Date.now() % 1_000_000}`;

test('the colour audit catches a planted grey', async () => {
  const { page, context } = await openPage(browser);
  await page.goto(`${WEB_URL}/login`);
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  // Through the DOM API, which the CSP allows (no inline style attribute in the markup).
  await page.evaluate(() => {
    document.querySelector('h1').style.color = 'rgb(128, 128, 128)';
  });
  const bad = await colourAudit(page);
  assert.ok(bad.some((line) => line.includes('rgb(128, 128, 128)')), bad.join('\n'));
  await context.close();
});

for (const viewport of [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
]) {
  test(`sign up, post and see it at ${viewport.width}×${viewport.height}`, async () => {
    const { page, context, problems, idle } = await openPage(browser, viewport);
    const audit = async (state) => {
      assert.deepEqual(await colourAudit(page), [], `colours on ${state}`);
      await screenshot(page, `${state}-${viewport.width}`);
    };

    await page.goto(`${WEB_URL}/`);
    await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
    await audit('login');

    await page.getByRole('link', { name: 'Sign up' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Sign up' }).waitFor();
    const username = `web_${viewport.width}_${unique}`.slice(0, 15);
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Email', { exact: true }).fill(`${username}@example.com`);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await audit('signup');
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();

    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    const text = `hello from the browser ${unique} #web`;
    await page.getByLabel('What is happening?').fill(text);
    const posted = page.waitForResponse(
      (response) => response.url().endsWith('/v1/tweets') && response.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    assert.equal((await posted).status(), 200, 'the post was accepted');
    // The post reaches the author's own home timeline through the fan-out. Reload only once
    // no request is in flight: a reload that cuts a token refresh short loses the rotated
    // pair, and the next refresh would present a spent token (which revokes the session).
    const post = page.getByRole('feed').getByText(text);
    const deadline = Date.now() + 60_000;
    while (!(await post.isVisible())) {
      assert.ok(Date.now() < deadline, 'the post never appeared in the home timeline');
      await idle();
      const loaded = page.waitForResponse((response) => response.url().includes('/v1/timeline/home'));
      await page.reload();
      await loaded;
      await idle();
    }
    await audit('home');

    // Her profile lists the post; its thread takes a reply, shown at once.
    await page.getByRole('navigation').getByRole('link', { name: 'Profile' }).click();
    await page.getByRole('heading', { level: 1, name: username }).waitFor();
    await page.getByRole('feed').getByText(text).waitFor();
    await audit('profile');
    await page.getByRole('feed').getByRole('link', { name: 'Thread' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Post' }).waitFor();
    const reply = `a reply ${unique}`;
    await page.getByLabel('Post your reply').fill(reply);
    const replied = page.waitForResponse(
      (response) => response.url().endsWith('/v1/tweets') && response.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    assert.equal((await replied).status(), 200, 'the reply was accepted');
    await page.getByRole('feed', { name: 'Replies' }).getByText(reply).waitFor();
    await audit('thread');
    await page.getByRole('navigation').getByRole('link', { name: 'Home' }).click();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();

    // A reload keeps the session (refresh token) and the empty draft.
    await idle();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    assert.equal(await page.getByLabel('What is happening?').inputValue(), '');

    assert.deepEqual(problems, [], 'console errors');
    await context.close();
  });
}

/** Signs up through the edge (as another client would) and returns the account. */
async function signUpOverRest(username) {
  const reply = await fetch(`${WEB_URL}/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, email: `${username}@example.com`, password: 'correct horse battery' }),
  });
  assert.equal(reply.status, 200, await reply.clone().text());
  const body = await reply.json();
  return { id: body.userId, token: body.tokens.accessToken };
}

test('a new follower shows as an unread notification, and reading it clears the count', async () => {
  const { page, context, problems, idle } = await openPage(browser);
  const signedUp = page.waitForResponse((response) => response.url().endsWith('/v1/auth/signup'));
  await page.goto(`${WEB_URL}/signup`);
  const username = `note_${unique}`;
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Email', { exact: true }).fill(`${username}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  const me = (await (await signedUp).json()).userId;
  await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();

  // Another user follows her (once her profile exists: it comes through svc-auth's outbox).
  const fan = await signUpOverRest(`fan_${unique}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const followed = await fetch(`${WEB_URL}/v1/users/${me}/follow`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fan.token}` },
    });
    if (followed.status === 200) break;
    assert.ok(Date.now() < deadline, `follow: ${followed.status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  // The navigation counts it as unread (the notification arrives through the outbox too).
  const unread = page.getByRole('navigation').getByRole('link', { name: /Notifications \(1 unread\)/ });
  while (!(await unread.isVisible())) {
    assert.ok(Date.now() < deadline, 'the unread count never showed');
    await idle();
    const loaded = page.waitForResponse((response) => response.url().endsWith('/v1/notifications/marker'));
    await page.reload();
    await loaded;
    await idle();
  }
  await unread.click();
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  await page.getByRole('feed').getByText('followed you').waitFor();
  // Seeing the list reads it.
  await page.getByRole('navigation').getByRole('link', { name: 'Notifications', exact: true }).waitFor();
  assert.deepEqual(await colourAudit(page), [], 'colours on notifications');
  await screenshot(page, 'notifications-1280');
  assert.deepEqual(problems, [], 'console errors');
  await context.close();
});
