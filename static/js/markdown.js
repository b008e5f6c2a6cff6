// markdown.js — an agent's reply (Markdown written by a language model, so
// untrusted) as safe DOM nodes: `marked` turns it into HTML, DOMPurify keeps
// only harmless elements and attributes, and the result is a DocumentFragment
// (never assigned through innerHTML). Both libraries are vendored under
// /vendor/ (pinned versions, see static/vendor/README.md).

import { Marked } from '../vendor/marked/marked.esm.js';
import DOMPurify from '../vendor/dompurify/purify.es.js';

const marked = new Marked({ gfm: true, breaks: false, async: false });

// Images would load from anywhere (and the CSP refuses them); raw HTML in a
// reply is shown as text by marked's renderer below, and whatever slips through
// is cleaned here.
const PURIFY = {
  ALLOWED_TAGS: ['p', 'br', 'hr', 'strong', 'em', 'b', 'i', 'del', 's', 'code', 'pre', 'blockquote',
    'ul', 'ol', 'li', 'a', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
    'input', 'span'],
  ALLOWED_ATTR: ['href', 'title', 'type', 'checked', 'disabled', 'start', 'align'],
  // DOMPurify's own rule with fewer schemes: http(s) and mailto, or no scheme at all.
  // (It is checked against every attribute value, so it must let "checkbox" through.)
  ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  FORBID_ATTR: ['style', 'id', 'name', 'class'],
  RETURN_DOM_FRAGMENT: true,
};

let hooked = false;
function hookLinks() {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') || '';
      if (/^(?:https?:)?\/\//i.test(href)) {
        node.setAttribute('rel', 'noopener noreferrer nofollow');
        node.setAttribute('target', '_blank');
      }
    }
    // Only the disabled checkboxes of GFM task lists are kept.
    if (node.tagName === 'INPUT') {
      if (node.getAttribute('type') !== 'checkbox') node.remove();
      else {
        node.setAttribute('disabled', '');
        node.setAttribute('aria-label', node.hasAttribute('checked') ? 'done' : 'not done');
      }
    }
  });
}

// Raw HTML blocks and inline tags in the Markdown are escaped into text.
const escapeHtml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
marked.use({
  renderer: {
    html(token) { return escapeHtml(token.text || token.raw || ''); },
    image(token) {
      const alt = token.text || 'image';
      const href = typeof token.href === 'string' ? token.href : '';
      return /^https?:/i.test(href)
        ? `<a href="${escapeHtml(href).replace(/"/g, '&quot;')}">${escapeHtml(alt)}</a>`
        : escapeHtml(alt);
    },
  },
});

/** The Markdown `text` as a sanitised DocumentFragment. */
export function renderMarkdown(text) {
  hookLinks();
  const html = marked.parse(String(text || ''));
  return DOMPurify.sanitize(html, PURIFY);
}

/** Replace the children of `container` with the rendered Markdown. */
export function renderMarkdownInto(container, text) {
  container.replaceChildren(renderMarkdown(text));
}
