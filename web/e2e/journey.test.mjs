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
