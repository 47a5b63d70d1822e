// Debian's Chromium driven by playwright-core (no browser download), and the audits every page
// state must pass: only black, white and transparent computed anywhere, and no console error
// (a Content-Security-Policy violation is one).

import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const WEB_URL = process.env.XIR_WEB_URL ?? 'http://127.0.0.1:8081';
export const SCREENSHOTS = new URL('./screenshots/', import.meta.url);

export async function launch() {
  return chromium.launch({
    executablePath: process.env.XIR_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A page that records console errors and failed requests. */
export async function openPage(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Requests in flight, so that a reload never cuts one short (a token refresh cut short
  // loses the rotated pair; a post cut short is left to its idempotency key).
  let inFlight = 0;
  let waiters = [];
  const settle = () => {
    if (inFlight === 0) {
      for (const resolve of waiters) resolve();
      waiters = [];
    }
  };
  page.on('request', () => {
    inFlight += 1;
  });
  for (const event of ['requestfinished', 'requestfailed']) {
    page.on(event, () => {
      inFlight -= 1;
      settle();
    });
  }
  const idle = () => (inFlight === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve)));
  return { context, page, problems, idle };
}

/**
 * Every computed colour of every element and its ::before/::after that is not black, white
 * or transparent: text, background, borders, outline, caret, text decoration, fill, stroke.
 */
export async function colourAudit(page) {
  return page.evaluate(() => {
    const allowed = new Set(['rgb(0, 0, 0)', 'rgb(255, 255, 255)', 'rgba(0, 0, 0, 0)']);
    const properties = [
      'color',
      'background-color',
      'border-top-color',
      'border-right-color',
      'border-bottom-color',
      'border-left-color',
      'outline-color',
      'caret-color',
      'text-decoration-color',
      'column-rule-color',
      'fill',
      'stroke',
    ];
    const bad = [];
    const check = (element, pseudo) => {
      const style = getComputedStyle(element, pseudo);
      if (pseudo && style.content === 'none') return;
      for (const property of properties) {
        const value = style.getPropertyValue(property);
        if (value === '' || value === 'none' || value.startsWith('url(')) continue;
        if (!allowed.has(value)) bad.push(`${element.tagName.toLowerCase()}${pseudo ?? ''} ${property}: ${value}`);
      }
      for (const property of ['opacity', 'filter', 'box-shadow', 'text-shadow', 'background-image']) {
        const value = style.getPropertyValue(property);
        const neutral = { opacity: '1', filter: 'none', 'box-shadow': 'none', 'text-shadow': 'none', 'background-image': 'none' };
        if (value !== neutral[property]) bad.push(`${element.tagName.toLowerCase()}${pseudo ?? ''} ${property}: ${value}`);
      }
    };
    for (const element of document.querySelectorAll('*')) {
      check(element, null);
      check(element, '::before');
      check(element, '::after');
    }
    return bad;
  });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
}
