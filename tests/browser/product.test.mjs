// The product in the browser (issue #9): create a project, add a document (a
// .md file read in the browser), find it by full-text search, create an agent
// bound to the project, chat and see the reply stream in with its source and
// tokens, the usage meter move; a free user at a limit sees the upgrade prompt;
// the model service down is explained; the app shell's drawer at 375 px.
//
// Against the real stack (scripts/run-tests) the LiteLLM stand-in answers the
// chat; TG_LITELLM_URL (from stack.env) lets the tests take it down. Against
// tests/browser/mock/server.mjs the mock's /__mock/ controls do the same.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, test } from 'node:test';
import {
  STEP_TIMEOUT, TEST_TIMEOUT, assertNoProblems, browser, closeBrowser, closePage, isMock, newPage, newUser,
  openAccountMenu, pageApi, registerViaUi, scrollWidth, url, waitForPath,
} from './lib.mjs';

after(closeBrowser);

const LITELLM = (process.env.TG_LITELLM_URL || '').replace(/\/+$/, '');
const STACK_DIR = process.env.TG_STACK_DIR || '';
const REPO = process.env.TG_REPO || '';
const REPLY_TIMEOUT = 30_000;

const DOCUMENT = [
  '# Refund policy',
  '',
  'Customers may ask for a refund within 30 days of a payment.',
  'Refunds are processed within 14 days and go back to the original card.',
  '',
  'Contact <support@example.com> — not a <script>alert("x")</script> tag.',
].join('\n');

async function registered(page, prefix) {
  const user = newUser(prefix);
  await registerViaUi(page, user);
  await waitForPath(page, '/app');
  await page.locator('#content').waitFor();
  return user;
}

/** The text of a usage meter ("3 of 100,000") on /usage. */
async function meterText(page, metric) {
  await page.goto(url('/usage'));
  const value = page.locator(`.usage-meter[data-metric="${metric}"] .usage-meter-value`);
  await value.waitFor();
  return value.innerText();
}

const usedOf = (text) => Number(String(text).split(/\s/)[0].replace(/[^\d]/g, ''));

/**
 * Set the free plan's monthly token allowance (null: unlimited) and resolve the one it had:
 * in the test database through `scripts/stack psql` (the browser tests run one file at a
 * time, and the caller puts the old value back), or through the mock's /__mock/limits.
 */
async function setFreeTokenLimit(limit) {
  if (await isMock()) {
    const b = await browser();
    const ctx = await b.newContext({ ignoreHTTPSErrors: true });
    try {
      const res = await ctx.request.post(url('/__mock/limits'), { data: { plan: 'free', limits: { monthly_tokens: limit } } });
      assert.equal(res.status(), 200, 'mock limits control');
    } finally {
      await ctx.close();
    }
    return 100000;
  }
  assert.ok(STACK_DIR && REPO, 'TG_STACK_DIR and TG_REPO are set (scripts/run-tests exports stack.env)');
  const value = limit === null ? 'NULL' : String(Math.trunc(limit));
  const out = execFileSync(`${REPO}/scripts/stack`, ['psql', STACK_DIR, '-qtAc',
    `WITH old AS (SELECT limit_monthly_tokens AS v FROM plans WHERE code = 'free')
     UPDATE plans SET limit_monthly_tokens = ${value} WHERE code = 'free' RETURNING (SELECT v FROM old)`],
  { encoding: 'utf8', timeout: STEP_TIMEOUT }).trim().split('\n')[0];
  assert.match(out, /^(\d+)?$/, `the free plan's token limit was "${out}"`);
  return out === '' ? null : Number(out);
}

/** Take the model service down (or bring it back) for the stack under test. */
async function setLlmDown(down) {
  if (await isMock()) {
    const b = await browser();
    const ctx = await b.newContext({ ignoreHTTPSErrors: true });
    try {
      const res = await ctx.request.post(url('/__mock/llm'), { data: { down }, timeout: STEP_TIMEOUT });
      assert.equal(res.status(), 200, 'mock LLM control');
    } finally {
      await ctx.close();
    }
    return;
  }
  assert.ok(LITELLM, 'TG_LITELLM_URL is set (the LiteLLM stand-in of the stack)');
  const res = await fetch(`${LITELLM}/_control/down`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ down }),
    signal: AbortSignal.timeout(STEP_TIMEOUT),
  });
  assert.equal(res.status, 200, 'LiteLLM stand-in control');
}

test('project → document → search → agent → streamed chat with its source; usage moves', { timeout: TEST_TIMEOUT * 2 }, async () => {
  const page = await newPage();
  try {
    await registered(page, 'prod');
    const projectsBefore = usedOf(await meterText(page, 'projects'));
    const tokensBefore = usedOf(await meterText(page, 'monthly_tokens'));
    assert.equal(projectsBefore, 0, 'a new account has no project');

    // a project, from the dialog
    await page.goto(url('/projects'));
    await page.locator('#content').waitFor();
    await page.getByRole('button', { name: 'New project' }).click();
    const projectDialog = page.getByRole('dialog', { name: 'New project' });
    await projectDialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'project-name-input',
      'the dialog focuses its first field');
    await projectDialog.getByLabel('Name').fill('Handbook');
    await projectDialog.getByLabel(/Description/).fill('Company policies');
    await projectDialog.getByRole('button', { name: 'Create project' }).click();
    await page.locator('.toast').filter({ hasText: 'Project “Handbook” created.' }).waitFor();
    await page.getByRole('link', { name: 'Handbook' }).click();
    await waitForPath(page, /^\/project(\.html)?\?id=/);
    await page.getByRole('heading', { level: 1, name: 'Handbook' }).waitFor();

    // a document from a .md file, read in the browser
    await page.getByRole('button', { name: 'New document' }).click();
    const docDialog = page.getByRole('dialog', { name: 'New document' });
    await docDialog.waitFor();
    await docDialog.getByLabel(/Load a text or Markdown file/).setInputFiles({
      name: 'Refund policy.md', mimeType: 'text/markdown', buffer: Buffer.from(DOCUMENT, 'utf8'),
    });
    await page.waitForFunction(() => document.querySelector('#document-content').value.includes('14 days'));
    assert.equal(await docDialog.getByLabel('Title').inputValue(), 'Refund policy', 'the title comes from the file name');
    await docDialog.getByRole('button', { name: 'Save document' }).click();
    await page.locator('.toast').filter({ hasText: 'Document “Refund policy” added.' }).waitFor();
    await page.locator('#document-list').getByRole('link', { name: 'Refund policy' }).waitFor();

    // full-text search: the snippet's terms are <mark>ed, the rest is text (no markup from the document)
    await page.getByLabel('Search the documents').fill('refunds');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('#documents-status').filter({ hasText: /1 document matches/ }).waitFor();
    const marks = await page.locator('#document-list .snippet mark').allInnerTexts();
    assert.ok(marks.length >= 1 && marks.every((m) => /refund/i.test(m)), `highlighted terms: ${JSON.stringify(marks)}`);
    assert.equal(await page.locator('#document-list .snippet script, #document-list .snippet a').count(), 0,
      'nothing but <mark> is made an element');
    const projectUrl = page.url();

    // an agent bound to the project, with a model from /api/models
    await page.goto(url('/agents'));
    await page.locator('#content').waitFor();
    await page.getByRole('button', { name: 'New agent' }).click();
    const agentDialog = page.getByRole('dialog', { name: 'New agent' });
    await agentDialog.waitFor();
    await agentDialog.getByLabel('Name').fill('Support');
    const models = await agentDialog.getByLabel('Model').locator('option').allInnerTexts();
    assert.ok(models.length >= 1 && !/No model/.test(models[0]), `models offered: ${JSON.stringify(models)}`);
    await agentDialog.getByLabel(/^Project/).selectOption({ label: 'Handbook' });
    await agentDialog.getByLabel(/^Instructions/).fill('Answer briefly and cite the documents.');
    await agentDialog.getByRole('button', { name: 'Create agent' }).click();
    await page.locator('.toast').filter({ hasText: 'Agent “Support” created.' }).waitFor();
    const agentItem = page.locator('#agent-list li').filter({ hasText: 'Support' });
    await agentItem.getByRole('link', { name: 'Handbook' }).waitFor();

    // chat: the reply streams in (text/event-stream), is rendered as Markdown, cites the document
    await agentItem.getByRole('link', { name: 'Chat with Support' }).click();
    await waitForPath(page, /^\/chat(\.html)?\?agent=/);
    await page.locator('#content').waitFor();
    const input = page.getByLabel('Message', { exact: true });
    await input.fill('What is the refund policy?');
    const streamed = page.waitForResponse((r) => /\/api\/agents\/[^/]+\/chat$/.test(new URL(r.url()).pathname));
    await input.press('Enter');
    const res = await streamed;
    assert.equal(res.status(), 200, 'the chat answers 200');
    assert.match(res.headers()['content-type'] || '', /^text\/event-stream/, 'the chat answers as a stream');
    const reply = page.locator('.message-assistant').last();
    await reply.locator('.message-meta').filter({ hasText: /\d[\d,]* tokens?/ }).waitFor({ timeout: REPLY_TIMEOUT });
    assert.equal(await reply.getAttribute('aria-busy'), null, 'the reply is no longer busy');
    assert.ok((await reply.locator('.message-body').innerText()).trim().length > 0, 'the reply has text');
    await reply.locator('.message-sources').getByRole('link', { name: 'Refund policy' }).waitFor();
    assert.equal(await reply.locator('.message-body script, .message-body img, .message-body [style]').count(), 0,
      'the reply holds no script, image or inline style');
    await page.locator('#messages .message-user').filter({ hasText: 'What is the refund policy?' }).waitFor();
    assert.match(page.url(), /[?&]conversation=/, 'the URL names the new conversation');

    // the conversation is listed and comes back after a reload, with its source
    await page.locator('#conversation-list a').filter({ hasText: /refund policy/i }).waitFor();
    await page.reload();
    await page.locator('#content').waitFor();
    await page.locator('.message-assistant .message-sources').getByRole('link', { name: 'Refund policy' }).waitFor();
    await page.getByRole('heading', { level: 1, name: /refund policy/i }).waitFor();

    // the source links to the document, which opens in the editor
    await page.locator('.message-assistant .message-sources').getByRole('link', { name: 'Refund policy' }).click();
    await page.getByRole('dialog', { name: 'Edit document' }).waitFor();
    assert.match(await page.locator('#document-content').inputValue(), /14 days/);
    assert.ok(page.url().startsWith(projectUrl.split('&')[0]), 'the source opens its project');

    // the usage meters moved
    assert.equal(usedOf(await meterText(page, 'projects')), projectsBefore + 1, 'projects meter +1');
    assert.equal(usedOf(await meterText(page, 'documents')), 1, 'documents meter');
    assert.ok(usedOf(await meterText(page, 'monthly_tokens')) > tokensBefore, 'the tokens meter moved');

    // the home page: the checklist and the recent conversation
    await page.goto(url('/app'));
    await page.locator('#content').waitFor();
    await page.locator('#recent-list').getByRole('link', { name: /refund policy/i }).waitFor();
    for (const step of ['project', 'document', 'agent', 'chat']) {
      await page.locator(`#checklist li[data-step="${step}"].done`).waitFor({ state: 'attached' });
    }
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('a free user at a limit sees the upgrade prompt', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    await registered(page, 'limit');
    assert.equal(await page.locator('#upgrade-link').isVisible(), false, 'no upgrade prompt at 0 %');
    const usage = await pageApi(page, '/api/usage');
    assert.equal(usage.plan, 'free', `a new account is on the free plan: ${JSON.stringify(usage)}`);
    const limit = usage.metrics && usage.metrics.projects && usage.metrics.projects.limit;
    assert.ok(Number.isInteger(limit) && limit >= 1 && limit <= 20, `the free plan limits projects (limit ${limit})`);
    for (let i = 1; i <= limit; i++) {
      const p = await pageApi(page, '/api/projects', { method: 'POST', body: { name: `Project ${i}` } });
      assert.ok(p.id, `project ${i}: ${JSON.stringify(p)}`);
    }

    // the shell's "Upgrade" link (a meter passed 80 %), on any signed-in page
    await page.goto(url('/projects'));
    await page.locator('#content').waitFor();
    const upgrade = page.locator('#upgrade-link');
    await upgrade.waitFor();
    assert.equal(await upgrade.getAttribute('href'), '/pricing');

    // one more: refused (402) with the limit named and a way to upgrade, inside the dialog
    await page.getByRole('button', { name: 'New project' }).click();
    const dialog = page.getByRole('dialog', { name: 'New project' });
    await dialog.getByLabel('Name').fill('One too many');
    await dialog.getByRole('button', { name: 'Create project' }).click();
    const notice = dialog.locator('.notice-quota');
    await notice.waitFor();
    assert.match(await notice.innerText(), new RegExp(`allows ${limit} project`));
    assert.equal(await notice.getByRole('link', { name: /upgrade/i }).getAttribute('href'), '/pricing');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.locator('#project-list li').count(), limit, 'nothing was created');

    // the usage page says the limit is reached
    await page.goto(url('/usage'));
    await page.locator('.usage-meter[data-metric="projects"].usage-full').waitFor();
    await page.locator('#usage-alert').getByRole('link', { name: /upgrade/i }).waitFor();
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('the chat explains that the model service is down, and keeps the message', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    await registered(page, 'down');
    const models = await pageApi(page, '/api/models');
    assert.ok(models.items && models.items.length, `models: ${JSON.stringify(models)}`);
    const agent = await pageApi(page, '/api/agents', { method: 'POST', body: { name: 'Plain', model: models.items[0].id } });
    assert.ok(agent.id, JSON.stringify(agent));
    await page.goto(url(`/chat?agent=${agent.id}`));
    await page.locator('#content').waitFor();
    await setLlmDown(true);
    try {
      const input = page.getByLabel('Message', { exact: true });
      await input.fill('Hello there');
      await page.getByRole('button', { name: 'Send' }).click();
      const alert = page.locator('#chat-error [role="alert"]');
      await alert.waitFor({ timeout: REPLY_TIMEOUT });
      assert.match(await alert.innerText(), /not reachable|unavailable/i);
      assert.equal(await input.inputValue(), 'Hello there', 'the message is back in the box');
      assert.equal(await page.locator('#messages .message').count(), 0, 'no message was kept');
    } finally {
      await setLlmDown(false);
    }
    // and once it is back, the same message goes through
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.message-assistant .message-meta').filter({ hasText: /tokens?/ }).waitFor({ timeout: REPLY_TIMEOUT });
    assert.equal(await page.locator('#chat-error').isVisible(), false, 'the error is gone');
    // the model answered on a 503-free path: ignore the 503 the browser logged
    page.problems = page.problems.filter((p) => !/status of 503/.test(p));
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

/**
 * Make the model's streamed replies slow (a word every 200-400 ms) or fast again.
 * Resolves false when the stand-in cannot (no /_control/stream).
 */
async function setSlowStream(slow) {
  if (await isMock()) {
    const b = await browser();
    const ctx = await b.newContext({ ignoreHTTPSErrors: true });
    try {
      const res = await ctx.request.post(url('/__mock/llm'), { data: { delay_ms: slow ? 400 : 40 }, timeout: STEP_TIMEOUT });
      return res.status() === 200;
    } finally {
      await ctx.close();
    }
  }
  if (!LITELLM) return false;
  const res = await fetch(`${LITELLM}/_control/stream`, slow
    ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ chunks: 60, chunk_delay_ms: 200 }),
      signal: AbortSignal.timeout(STEP_TIMEOUT) }
    : { method: 'DELETE', signal: AbortSignal.timeout(STEP_TIMEOUT) });
  return res.ok;
}

test('a chat past the token allowance is refused with the way to upgrade, and nothing is kept', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  let old;
  try {
    await registered(page, 'tokens');
    const models = await pageApi(page, '/api/models');
    const agent = await pageApi(page, '/api/agents', { method: 'POST', body: { name: 'Frugal', model: models.items[0].id } });
    assert.ok(agent.id, JSON.stringify(agent));
    old = await setFreeTokenLimit(10);
    await page.goto(url(`/chat?agent=${agent.id}`));
    await page.locator('#content').waitFor();
    await page.locator('#upgrade-link').waitFor();
    const input = page.getByLabel('Message', { exact: true });
    await input.fill('Please write a long answer about refunds');
    await page.getByRole('button', { name: 'Send' }).click();
    const notice = page.locator('#chat-error .notice-quota');
    await notice.waitFor({ timeout: REPLY_TIMEOUT });
    assert.match(await notice.innerText(), /tokens your plan includes/);
    assert.equal(await notice.getByRole('link', { name: /upgrade/i }).getAttribute('href'), '/pricing');
    assert.equal(await input.inputValue(), 'Please write a long answer about refunds', 'the message is back in the box');
    assert.equal(await page.locator('#messages .message').count(), 0, 'no message was kept');
    assert.equal(await page.locator('#conversation-list a').count(), 0, 'no conversation was started');
    assertNoProblems(page, assert);
  } finally {
    if (old !== undefined) await setFreeTokenLimit(old);
    await closePage(page);
  }
});

test('the stop button ends a streamed reply and keeps what came', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!(await setSlowStream(true))) {
    t.skip('the LiteLLM stand-in has no slow stream (POST /_control/stream)');
    return;
  }
  const page = await newPage();
  try {
    await registered(page, 'stop');
    const models = await pageApi(page, '/api/models');
    const agent = await pageApi(page, '/api/agents', { method: 'POST', body: { name: 'Slow', model: models.items[0].id } });
    await page.goto(url(`/chat?agent=${agent.id}`));
    await page.locator('#content').waitFor();
    await page.getByLabel('Message', { exact: true }).fill('Tell me a long story');
    await page.getByRole('button', { name: 'Send' }).click();
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor();
    await page.waitForFunction(() => {
      const body = document.querySelector('.message-assistant .message-body');
      return body && body.textContent.trim().split(/\s+/).length >= 3;
    }, null, { timeout: REPLY_TIMEOUT });
    await stop.click();
    const meta = page.locator('.message-assistant .message-meta');
    await meta.filter({ hasText: /^Stopped/ }).waitFor();
    await page.getByRole('button', { name: 'Send' }).waitFor();
    assert.ok((await page.locator('.message-assistant .message-body').innerText()).trim().length > 0, 'the partial reply stays');
    // the conversation keeps what was produced before the stop (stored once the server sees the
    // dropped stream, at its next chunk)
    let kept = false;
    for (let i = 0; i < 10 && !kept; i++) {
      await page.waitForTimeout(500);
      await page.reload();
      await page.locator('#content').waitFor();
      await page.locator('#messages .message-user').first().waitFor();
      kept = (await page.locator('.message-assistant .message-body').filter({ hasText: /\S/ }).count()) > 0;
    }
    assert.ok(kept, 'the stopped reply was kept in the conversation');
    assertNoProblems(page, assert);
  } finally {
    await setSlowStream(false).catch(() => {});
    await closePage(page);
  }
});

test('the app shell at 375 px: a drawer with the sidebar, the account menu, no horizontal scrolling', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage({ width: 375, height: 812 });
  try {
    const user = await registered(page, 'drawer');
    const drawer = page.locator('#app-sidebar');
    const menu = page.getByRole('button', { name: 'Menu', exact: true });
    assert.equal(await drawer.getByRole('link', { name: 'Projects' }).isVisible(), false, 'the sidebar is folded away');
    assert.ok(await scrollWidth(page) <= 375, `scrollWidth ${await scrollWidth(page)} > 375`);

    // opens by keyboard, takes the focus, keeps it inside, closes with Escape
    await menu.focus();
    await page.keyboard.press('Enter');
    await drawer.getByRole('link', { name: 'Projects' }).waitFor();
    assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    const inside = () => page.evaluate(() => !!document.activeElement.closest('#app-sidebar'));
    assert.ok(await inside(), 'the focus moved into the drawer');
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      assert.ok(await inside(), `Tab ${i + 1} stays in the drawer`);
    }
    assert.ok(await page.locator('main').evaluate((m) => m.closest('.app-main').inert), 'the page behind is inert');
    assert.ok(await scrollWidth(page) <= 375, 'the open drawer does not widen the page');
    await page.keyboard.press('Escape');
    await drawer.getByRole('link', { name: 'Projects' }).waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'drawer-toggle',
      'the focus is back on "Menu"');

    // a link of the drawer goes there
    await menu.click();
    await drawer.getByRole('link', { name: 'Agents' }).click();
    await waitForPath(page, '/agents');
    await page.locator('#content').waitFor();
    const agentsLink = drawer.locator('a[href="/agents"]');
    assert.equal(await agentsLink.getAttribute('aria-current'), 'page');
    assert.equal(await agentsLink.isVisible(), false, 'the drawer is closed on the new page');

    // the account menu: name, email, plan, profile, sign out
    await openAccountMenu(page);
    const panel = page.locator('#account-panel');
    await panel.getByText(user.email).waitFor();
    await panel.getByText(user.name).waitFor();
    assert.match(await panel.locator('#account-plan').innerText(), /free/i);
    await panel.getByRole('link', { name: 'Profile and settings' }).waitFor();
    await panel.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.ok(await scrollWidth(page) <= 375, 'the account menu fits');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });

    // the bell links to the notifications and says how many are unread
    assert.match(await page.locator('#bell').getAttribute('aria-label'), /^Notifications/);

    // tablets: the sidebar is back, and the top bar stays one line
    for (const width of [768, 1024]) {
      await page.setViewportSize({ width, height: 900 });
      await drawer.getByRole('link', { name: 'Projects' }).waitFor();
      assert.equal(await menu.isVisible(), false, `${width} px: no "Menu" button`);
      const bar = await page.locator('.app-topbar').boundingBox();
      assert.ok(bar.height <= 64, `${width} px: the top bar is one line (${bar.height} px high)`);
      assert.ok(await scrollWidth(page) <= width, `${width} px: no horizontal scrolling`);
    }
    await page.setViewportSize({ width: 375, height: 812 });
    for (const path of ['/app', '/projects', '/chat', '/usage']) {
      await page.goto(url(path));
      await page.locator('#content').waitFor();
      assert.ok(await scrollWidth(page) <= 375, `${path}: scrollWidth ${await scrollWidth(page)} > 375`);
    }
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('a signed-in page says so when the API is down, and recovers with "Try again"', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    await registered(page, 'apidown');
    // nginx with no backend: 502 with an HTML page
    await page.route('**/api/**', (route) => route.fulfill({
      status: 502, contentType: 'text/html', body: '<html><body>502 Bad Gateway</body></html>',
    }));
    for (const path of ['/projects', '/chat', '/usage']) {
      await page.goto(url(path));
      const status = page.locator('#page-status');
      await status.filter({ hasText: /unavailable/i }).waitFor();
      await status.getByRole('button', { name: 'Try again' }).waitFor();
      assert.equal(await page.locator('#content').isVisible(), false, `${path}: no half-loaded content`);
    }
    await page.unroute('**/api/**');
    await page.locator('#page-status').getByRole('button', { name: 'Try again' }).click();
    await page.locator('#content').waitFor();
    await page.locator('.usage-meter[data-metric="projects"]').waitFor();
    page.problems = page.problems.filter((p) => !/status of 502/.test(p));
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});
