// The pages' own modules on hostile input: the event-stream parser of api.js
// (in Node: it is plain JavaScript), and in the browser the search-snippet
// renderer (only <mark> becomes an element) and the Markdown renderer of the
// agents' replies (marked + DOMPurify: no script, handler, style, image or
// javascript: link survives).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SseParser } from '../../static/js/api.js';
import { TEST_TIMEOUT, assertNoProblems, closeBrowser, closePage, newPage, url } from './lib.mjs';

after(closeBrowser);

function parse(chunks) {
  const events = [];
  const p = new SseParser((e) => events.push(e));
  for (const c of chunks) p.push(c);
  p.end();
  return events;
}

test('SseParser: events split anywhere, CRLF, comments, multi-line data, a last event without its blank line', () => {
  const stream = 'event: start\r\ndata: {"conversation_id":"c1"}\r\n\r\n: keep-alive\n\n' +
    'event: delta\ndata: {"content":"Hel"}\n\nevent: delta\ndata: {"content":"lo\\n"}\n\n' +
    'data: line one\ndata: line two\n\nevent:done\ndata:{"usage":{"total_tokens":3}}\n\n' +
    'event: delta\ndata: {"content":"cut"}';
  const whole = parse([stream]);
  assert.deepEqual(whole.map((e) => e.event), ['start', 'delta', 'delta', 'message', 'done']);
  assert.equal(whole[3].data, 'line one\nline two');
  assert.deepEqual(JSON.parse(whole[4].data), { usage: { total_tokens: 3 } });
  // the same bytes cut into every possible pair of pieces, and one character at a time
  for (let i = 1; i < stream.length; i++) {
    assert.deepEqual(parse([stream.slice(0, i), stream.slice(i)]), whole, `split at ${i}`);
  }
  assert.deepEqual(parse([...stream]), whole, 'one character at a time');
  // a lone CR ends a line too (and a CR at the end of a piece may be half of CRLF)
  assert.deepEqual(parse(['event: x\rdata: 1\r', '\n\r\n']).map((e) => [e.event, e.data]), [['x', '1']]);
});

test('search snippets: only <mark> becomes markup, entities are decoded once', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    await page.goto(url('/login'));
    const out = await page.evaluate(async () => {
      const { snippetFragment } = await import('/js/ui.js');
      const render = (s) => {
        const p = document.createElement('p');
        p.append(snippetFragment(s));
        return { html: p.innerHTML, text: p.textContent, marks: [...p.querySelectorAll('mark')].map((m) => m.textContent),
          elements: p.querySelectorAll('*').length };
      };
      return [
        render('Our <mark>refund</mark> policy: &lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; &quot;x&quot; &#39;y&#39;'),
        render('<img src=x onerror=alert(1)> <mark>a</mark><b>b</b>'),
        render('<MARK>up</MARK> &#x1F600; &bogus; &#0;'),
      ];
    });
    assert.deepEqual(out[0].marks, ['refund']);
    assert.equal(out[0].text, 'Our refund policy: <script>alert(1)</script> &amp; "x" \'y\'');
    assert.equal(out[0].elements, 1, 'one element: the <mark>');
    // markup that is not <mark> stays text, whatever the server sent
    assert.deepEqual(out[1].marks, ['a']);
    assert.equal(out[1].elements, 1);
    assert.match(out[1].text, /^<img src=x onerror=alert\(1\)> a<b>b<\/b>$/);
    assert.deepEqual(out[2].marks, ['up']);
    assert.equal(out[2].text, 'up \u{1F600} &bogus; &#0;');
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('Markdown replies: formatting kept, anything active removed', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    await page.goto(url('/login'));
    const out = await page.evaluate(async () => {
      const { renderMarkdown } = await import('/js/markdown.js');
      const box = document.createElement('div');
      box.append(renderMarkdown([
        '# Title', '', 'Some **bold**, *em*, `code` and [a link](https://example.com/x).', '',
        '- one', '- two', '', '```', '<b>in a block</b>', '```', '',
        '<script>window.__pwned = 1</script>', '',
        '<img src="/favicon.svg" onerror="window.__pwned = 2">', '',
        '![an image](https://example.com/i.png)', '',
        '[bad](javascript:alert(1)) [data](data:text/html,hi) <a href="javascript:alert(2)">raw</a>', '',
        '<div style="color:red" onclick="x()">styled</div>', '',
        '<iframe src="https://example.com"></iframe>', '',
        '| a | b |', '|---|---|', '| 1 | 2 |', '', '- [x] done', '- [ ] not yet',
      ].join('\n')));
      document.body.append(box);
      const all = [...box.querySelectorAll('*')];
      const result = {
        tags: [...new Set(all.map((e) => e.tagName.toLowerCase()))].sort(),
        attrs: [...new Set(all.flatMap((e) => [...e.attributes].map((a) => a.name)))].sort(),
        hrefs: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
        text: box.textContent,
        pwned: window.__pwned || 0,
        checkboxes: [...box.querySelectorAll('input')].map((i) => [i.type, i.disabled]),
      };
      box.remove();
      return result;
    });
    for (const tag of ['h1', 'strong', 'em', 'code', 'a', 'ul', 'li', 'pre', 'table', 'td']) {
      assert.ok(out.tags.includes(tag), `<${tag}> is kept (${out.tags})`);
    }
    for (const tag of ['script', 'img', 'iframe', 'div', 'style']) {
      assert.ok(!out.tags.includes(tag), `<${tag}> is removed`);
    }
    for (const attr of out.attrs) {
      assert.ok(!/^on|^style$|^src$/.test(attr), `attribute ${attr} is removed`);
    }
    for (const href of out.hrefs) {
      if (href !== null) assert.match(href, /^(https?:|\/|#|mailto:)/, `no active link: ${href}`);
    }
    assert.ok(out.hrefs.includes('https://example.com/x'));
    assert.ok(out.hrefs.includes('https://example.com/i.png'), 'an image becomes a link to it');
    assert.equal(out.pwned, 0, 'nothing ran');
    assert.match(out.text, /<b>in a block<\/b>/, 'code blocks show their markup as text');
    assert.match(out.text, /<script>window.__pwned = 1<\/script>/, 'raw HTML is shown as text');
    assert.deepEqual(out.checkboxes, [['checkbox', true], ['checkbox', true]]);
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});
