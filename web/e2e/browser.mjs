// Debian's Chromium driven by playwright-core (no browser download), and the audits every page
// state must pass: only black, white and transparent computed anywhere, and no console error
// (a Content-Security-Policy violation is one).

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

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
      if ((pseudo === '::before' || pseudo === '::after') && style.content === 'none') return;
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
      check(element, '::marker');
    }
    // What the whole document paints its own way: placeholders, selection, a dialog's backdrop.
    for (const element of document.querySelectorAll('input, textarea')) check(element, '::placeholder');
    for (const element of document.querySelectorAll('dialog')) check(element, '::backdrop');
    check(document.body, '::selection');
    return bad;
  });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
}

/** Pixels of a screenshot whose channels differ (a colour, not a shade of grey), decoded by
 * the browser itself in a page of its own. */
export async function chromaticPixels(context, png) {
  const scratch = await context.newPage();
  try {
    return await scratch.evaluate(async (base64) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context2d = canvas.getContext('2d');
      context2d.drawImage(image, 0, 0);
      const { data } = context2d.getImageData(0, 0, image.width, image.height);
      let count = 0;
      let first = null;
      for (let at = 0; at < data.length; at += 4) {
        const [r, g, b] = [data[at], data[at + 1], data[at + 2]];
        if (Math.max(r, g, b) - Math.min(r, g, b) > 8) {
          count += 1;
          first ??= `(${(at / 4) % image.width}, ${Math.floor(at / 4 / image.width)}) rgb(${r}, ${g}, ${b})`;
        }
      }
      return { count, first };
    }, png.toString('base64'));
  } finally {
    await scratch.close();
  }
}

/** axe-core's serious and critical violations (WCAG 2.x A and AA rules). */
export async function axeViolations(page) {
  // Evaluated over the DevTools protocol, which the page's CSP does not govern; the page's
  // own scripts still run under it.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

/**
 * Every audit on one page state, at both sizes: computed colours, screenshot pixels, axe, no
 * console error so far, and no horizontal scroll at 320 px wide. The screenshots are kept for
 * a person to look at. The page ends at the size it had.
 */
export async function auditState(page, context, problems, state) {
  const before = page.viewportSize();
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    assert.deepEqual(await colourAudit(page), [], `colours on ${state} at ${viewport.width}`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const png = await page.screenshot({ path: new URL(`${state}-${viewport.width}.png`, SCREENSHOTS).pathname, fullPage: true });
    const chromatic = await chromaticPixels(context, png);
    assert.equal(chromatic.count, 0, `chromatic pixels on ${state} at ${viewport.width}, first ${chromatic.first}`);
    assert.deepEqual(await axeViolations(page), [], `axe on ${state} at ${viewport.width}`);
  }
  await page.setViewportSize({ width: 320, height: 640 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${state} scrolls sideways by ${overflow}px at 320 px`);
  await page.setViewportSize(before ?? VIEWPORTS[0]);
  assert.deepEqual(problems, [], `console errors by ${state}`);
}
