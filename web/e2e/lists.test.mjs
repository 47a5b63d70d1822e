// A long list loads as the reader scrolls (the "Load more" button stays for those who would
// rather ask), and ends by saying so.

import { after, before, test } from 'node:test';
import { WEB_URL, launch, openPage } from './browser.mjs';
import { postOverRest, shows, signUpOverRest, uniqueName } from './steps.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a profile of 25 posts loads its older pages as the reader scrolls to the end', async () => {
  const username = uniqueName('long');
  const author = await signUpOverRest(username);
  for (let n = 1; n <= 25; n += 1) await postOverRest(author, `post number ${n} of many`);
  const { page, context } = await openPage(browser);
  await page.goto(`${WEB_URL}/u/${username}`);
  await shows(page.getByRole('feed').getByText('post number 25 of many'));
  // Pages of 20 (25 posts stay within the posting rate's burst): the oldest is on the
  // second. Scrolling to the end brings it, no click.
  await page.keyboard.press('End');
  await shows(page.getByRole('feed').getByText('post number 1 of many', { exact: true }));
  await shows(page.getByRole('button', { name: 'No more posts' }));
  await context.close();
});
