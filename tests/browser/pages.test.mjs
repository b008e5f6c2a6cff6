// Every page: loads without console errors, exceptions or CSP violations, has
// one <main>, a label on every control, the legal links in the footer, no inline
// script/style/handlers, and no horizontal scrolling at 375 px.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  TEST_TIMEOUT, assertNoProblems, closeBrowser, closePage, newPage, newUser, pageApi, registerViaUi, url,
  waitForPath,
} from './lib.mjs';

after(closeBrowser);

const PUBLIC = ['/', '/login', '/register', '/forgot-password', '/reset-password?token=x', '/pricing',
  '/terms', '/privacy', '/cookies', '/refund-policy'];
const PROTECTED = ['/app', '/projects', '/agents', '/chat', '/usage', '/profile', '/notifications', '/billing',
  '/checkout-success'];
// The app shell's sidebar, the same on every signed-in page.
const SHELL_NAV = ['/app', '/projects', '/agents', '/chat', '/usage', '/billing', '/profile'];

/** Facts about the loaded page the tests assert on. */
function audit(page) {
  return page.evaluate(() => {
    const controls = [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden');
    const unlabelled = controls.filter((el) => !(el.labels && el.labels.length) &&
      !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map((el) => el.outerHTML.slice(0, 80));
    const inline = [];
    for (const el of document.querySelectorAll('*')) {
      for (const a of el.attributes) {
        if (a.name === 'style' || /^on/i.test(a.name)) inline.push(`${el.tagName.toLowerCase()}[${a.name}]`);
      }
    }
    for (const s of document.querySelectorAll('script:not([src])')) inline.push('inline <script>');
    for (const s of document.querySelectorAll('style')) inline.push('<style> element');
    const legal = [...document.querySelectorAll('footer a')].map((a) => a.getAttribute('href'));
    return {
      mains: document.querySelectorAll('main').length,
      h1: document.querySelectorAll('h1').length,
      unlabelled, inline, legal,
      lang: document.documentElement.lang,
      width: document.documentElement.scrollWidth,
    };
  });
}

async function check(page, path, width) {
  const facts = await audit(page);
  assert.equal(facts.mains, 1, `${path}: one <main>`);
  assert.ok(facts.h1 >= 1, `${path}: a heading`);
  assert.equal(facts.lang, 'en', `${path}: <html lang>`);
  assert.deepEqual(facts.unlabelled, [], `${path}: every control has a label`);
  assert.deepEqual(facts.inline, [], `${path}: no inline script, style or handlers`);
  for (const href of ['/terms', '/privacy', '/cookies', '/refund-policy']) {
    assert.ok(facts.legal.includes(href), `${path}: footer links ${href}`);
  }
  assert.ok(facts.width <= width, `${path}: scrollWidth ${facts.width} > ${width}`);
}

for (const width of [375, 1280]) {
  test(`public pages at ${width} px`, { timeout: TEST_TIMEOUT }, async () => {
    const page = await newPage({ width });
    try {
      for (const path of PUBLIC) {
        const res = await page.goto(url(path));
        assert.equal(res.status(), 200, `${path}: HTTP 200`);
        await page.waitForLoadState('networkidle');
        await check(page, path, width);
      }
      assertNoProblems(page, assert);
    } finally {
      await closePage(page);
    }
  });

  test(`signed-in pages at ${width} px`, { timeout: TEST_TIMEOUT }, async () => {
    const page = await newPage({ width });
    try {
      await registerViaUi(page, newUser(`pages${width}`));
      await waitForPath(page, '/app');
      await page.locator('#content').waitFor();
      const project = await pageApi(page, '/api/projects', { method: 'POST', body: { name: 'Pages test' } });
      assert.ok(project.id, `a project to show: ${JSON.stringify(project)}`);
      for (const path of [...PROTECTED, `/project?id=${project.id}`]) {
        await page.goto(url(path));
        await page.waitForLoadState('networkidle');
        await page.locator('#content').waitFor();
        await check(page, path, width);
        const nav = await page.locator('#app-sidebar .app-nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
        assert.deepEqual(nav, SHELL_NAV, `${path}: the app shell's sidebar`);
        assert.equal(await page.locator('#app-sidebar a[aria-current="page"]').count(), path === '/notifications' ? 0 : 1,
          `${path}: one sidebar link marks the current section`);
        // The shell has its room before the script fills it in (name, bell count, upgrade link):
        // nothing in the top bar or the sidebar moves while the page loads.
        const shifted = await page.evaluate(() => new Promise((resolve) => {
          new PerformanceObserver((list) => {
            const moved = [];
            for (const e of list.getEntries()) {
              for (const src of e.sources || []) {
                const n = src.node;
                if (n && n.closest && n.closest('.app-topbar, .app-sidebar')) moved.push(n.id || n.className || n.nodeName);
              }
            }
            resolve(moved);
          }).observe({ type: 'layout-shift', buffered: true });
          setTimeout(() => resolve([]), 500);
        }));
        assert.deepEqual(shifted, [], `${path}: the app shell moved while loading`);
      }
      assertNoProblems(page, assert);
    } finally {
      await closePage(page);
    }
  });
}

test('an unknown path answers 404 with the 404 page', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    const res = await page.goto(url('/no-such-page-here'));
    assert.equal(res.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('the legal pages mark what the operator must fill in', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    for (const path of ['/terms', '/privacy', '/cookies', '/refund-policy']) {
      await page.goto(url(path));
      assert.ok(await page.getByText('[COMPANY NAME]').first().isVisible(), `${path}: [COMPANY NAME] placeholder`);
    }
  } finally {
    await closePage(page);
  }
});

test('the first Tab reaches "Skip to main content"', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    await page.goto(url('/login'));
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.textContent), 'Skip to main content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'main');
  } finally {
    await closePage(page);
  }
});
