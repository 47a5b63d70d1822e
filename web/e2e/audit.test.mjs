// The audits are only worth their green if they can go red: a grey planted in the page fails
// the computed-colour audit, and a colour planted in the pixels fails the pixel audit.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WEB_URL, chromaticPixels, colourAudit, launch, openPage } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('the colour and pixel audits catch what is planted', async () => {
  const { page, context } = await openPage(browser);
  await page.goto(`${WEB_URL}/login`);
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  assert.deepEqual(await colourAudit(page), []);
  assert.equal((await chromaticPixels(context, await page.screenshot())).count, 0);
  // Through the DOM API, which the CSP allows (no inline style attribute in the markup).
  await page.evaluate(() => {
    document.querySelector('h1').style.color = 'rgb(128, 128, 128)';
    document.querySelector('h1').style.setProperty('background-color', 'rgb(200, 30, 30)');
  });
  const bad = await colourAudit(page);
  assert.ok(bad.some((line) => line.includes('rgb(128, 128, 128)')), bad.join('\n'));
  assert.ok((await chromaticPixels(context, await page.screenshot())).count > 100);
  await context.close();
});
