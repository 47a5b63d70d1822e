// Keyboard only: the skip link, signing up, j/k through the feed, l to like, n to compose in
// a dialog that gives the focus back, ? for the list of shortcuts, g n and / to move around;
// shortcuts ignored while typing. No mouse event is sent.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WEB_URL, auditState, launch, openPage } from './browser.mjs';
import { PASSWORD, shows, uniqueName } from './steps.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const focused = (page) =>
  page.evaluate(() => {
    const element = document.activeElement;
    return { tag: element?.tagName.toLowerCase(), text: element?.textContent ?? '', label: element?.getAttribute('aria-label') };
  });

test('a keyboard-only reader signs up, moves through the feed, likes, posts and finds the shortcuts', async () => {
  const session = await openPage(browser);
  const { page, context, problems } = session;
  const { keyboard } = page;
  await page.goto(`${WEB_URL}/signup`);
  await page.getByRole('heading', { level: 1, name: 'Sign up' }).waitFor();
  await auditState(page, context, problems, 'signup');

  // The first Tab reaches the skip link, which takes the reader to the page's content.
  await keyboard.press('Tab');
  assert.match((await focused(page)).text, /Skip to content/);
  await keyboard.press('Enter');
  await page.waitForFunction(() => location.hash === '#content');

  const username = uniqueName('keys');
  await page.getByLabel('Username', { exact: true }).focus();
  await keyboard.type(username);
  await keyboard.press('Tab'); // the hint is text, not a stop
  await keyboard.type(`${username}@example.com`);
  await keyboard.press('Tab');
  await keyboard.type(PASSWORD);
  await keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();

  await shows(page.getByText('Nothing yet: follow people to see their posts here.'));
  // Shortcuts do nothing while typing: n in the compose box is a letter.
  await page.getByLabel('What is happening?').focus();
  await keyboard.type('not a shortcut n');
  assert.equal(await page.getByRole('dialog').count(), 0);
  // Two posts of one's own, sent with the keyboard.
  await keyboard.press('Tab');
  assert.equal((await focused(page)).text, 'Post');
  await keyboard.press('Enter');
  await shows(page.getByRole('feed').getByText('not a shortcut n'));

  // n opens the compose dialog with the focus in it; Escape closes it, the focus comes back.
  await page.getByRole('heading', { level: 1, name: 'Home' }).focus();
  await keyboard.press('n');
  const dialog = page.getByRole('dialog', { name: 'New post' });
  await shows(dialog);
  assert.equal((await focused(page)).tag, 'textarea');
  await keyboard.type('second, from the dialog');
  await keyboard.press('Tab');
  assert.equal((await focused(page)).text, 'Post');
  await keyboard.press('Enter');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await focused(page)).tag, 'h1', 'the focus is back where n was pressed');
  await shows(page.getByRole('feed').getByText('second, from the dialog'));

  // j and k move through the feed; l likes the post that has the focus.
  await keyboard.press('j');
  assert.equal((await focused(page)).tag, 'article');
  assert.match((await focused(page)).text, /second, from the dialog/);
  await keyboard.press('j');
  assert.match((await focused(page)).text, /not a shortcut n/);
  await keyboard.press('k');
  assert.match((await focused(page)).text, /second, from the dialog/);
  await keyboard.press('l');
  await shows(page.getByRole('feed').getByRole('article').first().getByRole('button', { name: /^Liked 1/, pressed: true }));
  await auditState(page, context, problems, 'keyboard-home');

  // ? lists the shortcuts.
  await keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await shows(help);
  await auditState(page, context, problems, 'shortcuts');
  await keyboard.press('Escape');
  await help.waitFor({ state: 'hidden' });

  // g n goes to the notifications, / to the search with the focus in its field.
  await keyboard.press('g');
  await keyboard.press('n');
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  await keyboard.press('/');
  await page.getByRole('heading', { level: 1, name: 'Search people' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.tagName === 'INPUT');
  await keyboard.press('Escape');
  assert.deepEqual(problems, []);
  await context.close();
});
