// /chat?agent=…&conversation=… — chat with an agent: its conversations, the
// messages of one, and a composer whose replies stream in as they are written
// (POST /api/agents/{id}/chat with "stream": true, read as server-sent events),
// rendered as sanitised Markdown, with the sources the agent cited and the
// tokens each reply used. "Stop" aborts the request; 402 (a plan limit) and
// 503 (the model service is down) are explained next to the composer.
import { ApiError, api, apiStream, streamError } from './api.js';
import { $, el, formatDate, handleAuthLoss, queryParam, setPageStatus } from './page.js';
import { renderMarkdownInto } from './markdown.js';
import { loadUsage, startShell } from './shell.js';
import { confirmDialog, errorNotice, formatNumber, showError, snippetFragment } from './ui.js';

const RENDER_EVERY_MS = 50;
const agentSelect = $('#chat-agent');
const messages = $('#messages');
const composer = $('#composer');
const input = $('#chat-input');
const sendButton = $('#send');
const stopButton = $('#stop');
const errorBox = $('#chat-error');
const live = $('#chat-live');
const convList = $('#conversation-list');
const convStatus = $('#conversations-status');
const convMore = $('#conversations-more');

const state = {
  agents: [],
  agent: null,
  conversationId: null,
  convPage: 1,
  convTotal: 0,
  controller: null,   // the AbortController of the reply being streamed
};

// ---------------------------------------------------------------- URL and header

function syncUrl() {
  const params = new URLSearchParams();
  if (state.agent) params.set('agent', state.agent.id);
  if (state.conversationId) params.set('conversation', state.conversationId);
  const q = params.toString();
  history.replaceState(null, '', `/chat${q ? `?${q}` : ''}`);
}

function setTitle(text) {
  $('#chat-title').textContent = text;
  document.title = `${text} — Tollgate`;
}

function clearError() {
  errorBox.replaceChildren();
  errorBox.hidden = true;
}

// ---------------------------------------------------------------- messages

function emptyState() {
  const a = state.agent;
  const p = el('p', 'messages-empty');
  p.textContent = a
    ? `Ask ${a.name} anything.${a.project_id ? ' Its replies can cite the documents of its project.' : ''}`
    : 'Choose an agent to start.';
  return p;
}

function usageText(usage) {
  if (!usage || !Number.isFinite(Number(usage.total_tokens))) return '';
  const total = Number(usage.total_tokens);
  const parts = [];
  if (Number.isFinite(Number(usage.prompt_tokens))) parts.push(`${formatNumber(usage.prompt_tokens)} in`);
  if (Number.isFinite(Number(usage.completion_tokens))) parts.push(`${formatNumber(usage.completion_tokens)} out`);
  return `${formatNumber(total)} token${total === 1 ? '' : 's'}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

function sourcesBlock(sources) {
  if (!Array.isArray(sources) || !sources.length) return null;
  const box = el('div', 'message-sources');
  box.append(el('h4', null, sources.length === 1 ? 'Source' : 'Sources'));
  const ul = el('ul');
  const projectId = state.agent && state.agent.project_id;
  for (const s of sources) {
    const li = el('li', 'source');
    let title;
    if (projectId && s.document_id) {
      title = el('a', null, s.title || 'Document');
      title.href = `/project?id=${encodeURIComponent(projectId)}&doc=${encodeURIComponent(s.document_id)}`;
    } else {
      title = el('strong', null, s.title || 'Document');
    }
    li.append(title);
    if (s.snippet) {
      const p = el('p', 'snippet');
      p.append(snippetFragment(s.snippet));
      li.append(p);
    }
    ul.append(li);
  }
  box.append(ul);
  return box;
}

/** An <article> for a message; returns {article, body, meta}. */
function messageElement(role, { content = '', usage = null, sources = null, created_at: at = null } = {}) {
  const article = el('article', `message message-${role === 'user' ? 'user' : 'assistant'}`);
  const who = role === 'user' ? 'You' : (state.agent ? state.agent.name : 'Agent');
  article.append(el('h3', 'message-role', who));
  const body = el('div', role === 'user' ? 'message-body' : 'message-body markdown');
  if (role === 'user') body.textContent = content;
  else renderMarkdownInto(body, content);
  article.append(body);
  const srcs = role === 'user' ? null : sourcesBlock(sources);
  if (srcs) article.append(srcs);
  const meta = el('p', 'message-meta');
  const bits = [];
  if (role !== 'user') { const u = usageText(usage); if (u) bits.push(u); }
  if (at) bits.push(formatDate(at, { time: true }));
  meta.textContent = bits.join(' · ');
  meta.hidden = !bits.length;
  article.append(meta);
  return { article, body, meta };
}

function showMessages(items) {
  messages.replaceChildren();
  if (!items.length) { messages.append(emptyState()); return; }
  for (const m of items) messages.append(messageElement(m.role, m).article);
}

function scrollToEnd(node) {
  const rect = node.getBoundingClientRect();
  if (rect.bottom > window.innerHeight - 140) node.scrollIntoView({ block: 'end', behavior: 'instant' });
}

// ---------------------------------------------------------------- conversations

function markCurrentConversation() {
  for (const a of convList.querySelectorAll('a')) {
    if (a.dataset.id === state.conversationId) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function conversationItem(c) {
  const li = el('li');
  const a = el('a', null, c.title || 'Untitled conversation');
  a.dataset.id = c.id;
  a.href = `/chat?agent=${encodeURIComponent(c.agent_id)}&conversation=${encodeURIComponent(c.id)}`;
  a.append(el('span', 'small', formatDate(c.updated_at, { time: true })));
  a.addEventListener('click', (e) => {
    e.preventDefault();
    if (state.controller) return;
    openConversation(c.id).then(() => input.focus());
  });
  li.append(a);
  return li;
}

async function loadConversations(reset = true) {
  if (!state.agent) { convList.replaceChildren(); convStatus.textContent = ''; convMore.hidden = true; return; }
  if (reset) state.convPage = 1;
  try {
    const data = await api(`/api/agents/${encodeURIComponent(state.agent.id)}/conversations?page=${state.convPage}&per_page=50`);
    const items = (data && data.items) || [];
    if (reset) convList.replaceChildren();
    for (const c of items) convList.append(conversationItem(c));
    state.convTotal = Number(data && data.total) || convList.children.length;
    convStatus.textContent = convList.children.length ? '' : 'No conversations yet.';
    convMore.hidden = convList.children.length >= state.convTotal || !items.length;
    markCurrentConversation();
    return items;
  } catch (err) {
    if (!handleAuthLoss(err)) convStatus.textContent = `Conversations could not be loaded. ${err.message}`;
    return [];
  }
}

async function openConversation(id) {
  clearError();
  try {
    const conv = await api(`/api/conversations/${encodeURIComponent(id)}`);
    // A link may name another agent than the conversation's: the conversation wins.
    if (conv.agent_id && (!state.agent || state.agent.id !== conv.agent_id)) {
      const owner = state.agents.find((a) => a.id === conv.agent_id);
      if (owner) {
        state.agent = owner;
        agentSelect.value = owner.id;
        loadConversations(true);
      }
    }
    state.conversationId = conv.id;
    setTitle(conv.title || 'Conversation');
    showMessages(conv.messages || []);
    $('#delete-conversation').hidden = false;
    markCurrentConversation();
    syncUrl();
    const last = messages.lastElementChild;
    if (last) scrollToEnd(last);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    newConversation();
    showError(errorBox, err, { prefix: err.status === 404 ? 'That conversation does not exist any more.' : 'The conversation could not be loaded.' });
  }
}

function newConversation() {
  state.conversationId = null;
  setTitle('New conversation');
  showMessages([]);
  $('#delete-conversation').hidden = true;
  markCurrentConversation();
  syncUrl();
}

$('#new-conversation').addEventListener('click', () => {
  clearError();
  newConversation();
  input.focus();
});

$('#delete-conversation').addEventListener('click', async () => {
  const id = state.conversationId;
  if (!id) return;
  const ok = await confirmDialog({
    title: 'Delete this conversation?',
    body: 'Its messages are deleted for good. The tokens it used still count for this period.',
    confirmLabel: 'Delete conversation',
  });
  if (!ok) return;
  try {
    await api(`/api/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' });
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err.status !== 404) { showError(errorBox, err, { prefix: 'The conversation could not be deleted.' }); return; }
  }
  const link = convList.querySelector(`a[data-id="${CSS.escape(id)}"]`);
  if (link) link.closest('li').remove();
  if (!convList.children.length) convStatus.textContent = 'No conversations yet.';
  newConversation();
  live.textContent = 'Conversation deleted.';
  input.focus();
});

convMore.addEventListener('click', () => { state.convPage += 1; loadConversations(false); });

// ---------------------------------------------------------------- agents

function selectAgent(id, { keepConversation = false } = {}) {
  state.agent = state.agents.find((a) => a.id === id) || state.agents[0] || null;
  agentSelect.value = state.agent ? state.agent.id : '';
  if (!keepConversation) newConversation();
  loadConversations(true);
}

agentSelect.addEventListener('change', () => {
  clearError();
  selectAgent(agentSelect.value);
});

async function loadAgents() {
  const data = await api('/api/agents?per_page=200');
  state.agents = (data && data.items) || [];
  agentSelect.replaceChildren();
  for (const a of state.agents) agentSelect.append(new Option(a.name, a.id));
  const none = state.agents.length === 0;
  $('#no-agents').hidden = !none;
  agentSelect.disabled = none;
  $('#new-conversation').disabled = none;
  input.disabled = none;
  sendButton.disabled = none;
}

// ---------------------------------------------------------------- sending

function setStreaming(on) {
  sendButton.hidden = on;
  stopButton.hidden = !on;
  agentSelect.disabled = on || !state.agents.length;
  $('#new-conversation').disabled = on;
  $('#delete-conversation').disabled = on;
}

async function send(content) {
  clearError();
  const agent = state.agent;
  if (!agent) return;
  if (messages.querySelector('.messages-empty')) messages.replaceChildren();
  const mine = messageElement('user', { content });
  messages.append(mine.article);
  const reply = messageElement('assistant', {});
  reply.article.setAttribute('aria-busy', 'true');
  reply.body.classList.add('typing');
  messages.append(reply.article);
  scrollToEnd(reply.article);
  live.textContent = `${agent.name} is replying…`;

  const controller = new AbortController();
  state.controller = controller;
  setStreaming(true);
  stopButton.focus();

  let text = '';
  let timer = null;
  let started = false;
  let finished = false;
  const render = () => {
    timer = null;
    renderMarkdownInto(reply.body, text);
    scrollToEnd(reply.article);
  };
  const schedule = () => { if (!timer) timer = setTimeout(render, RENDER_EVERY_MS); };
  const finish = ({ usage = null, sources = null } = {}) => {
    finished = true;
    clearTimeout(timer);
    render();
    const block = sourcesBlock(sources);
    if (block) reply.article.insertBefore(block, reply.meta);
    const u = usageText(usage);
    reply.meta.textContent = [u, formatDate(new Date().toISOString(), { time: true })].filter(Boolean).join(' · ');
    reply.meta.hidden = false;
  };
  const failInside = (err) => {
    const notice = errorNotice(err);
    notice.classList.add('message-error');
    reply.article.insertBefore(notice, reply.meta);
  };

  try {
    const body = { content, stream: true };
    if (state.conversationId) body.conversation_id = state.conversationId;
    await apiStream(`/api/agents/${encodeURIComponent(agent.id)}/chat`, {
      body,
      signal: controller.signal,
      onEvent(name, data) {
        if (name === 'start') {
          started = true;
          if (data && data.conversation_id && data.conversation_id !== state.conversationId) {
            state.conversationId = data.conversation_id;
            $('#delete-conversation').hidden = false;
            syncUrl();
          }
        } else if (name === 'delta') {
          started = true;
          text += data && typeof data.content === 'string' ? data.content : '';
          schedule();
        } else if (name === 'done') {
          finish(data || {});
        } else if (name === 'error') {
          finish({});
          failInside(streamError(data));
        } else if (name === 'json' && data && data.message) {
          // A server that answered without streaming: the whole reply at once.
          started = true;
          state.conversationId = data.conversation_id || state.conversationId;
          text = data.message.content || '';
          finish(data);
          syncUrl();
        }
      },
    });
    if (!finished) {
      finish({});
      failInside(new ApiError({ status: 0, code: 'stream_error', message: 'The reply stopped before it was complete. Try again.' }));
    }
    live.textContent = `${agent.name} replied.`;
  } catch (err) {
    clearTimeout(timer);
    if (err && err.name === 'AbortError') {
      finish({});
      reply.meta.textContent = `Stopped${text ? '' : ' before any reply'}. ${reply.meta.textContent}`.trim();
      live.textContent = 'Reply stopped.';
    } else if (!started) {
      // Refused before the model answered (402, 503, …): nothing was stored.
      // Put the message back so it can be sent again.
      mine.article.remove();
      reply.article.remove();
      if (!messages.children.length) messages.append(emptyState());
      if (!handleAuthLoss(err)) {
        input.value = content;
        showError(errorBox, err);
      }
      live.textContent = '';
    } else {
      finish({});
      failInside(err);
      live.textContent = 'The reply was interrupted.';
    }
  } finally {
    reply.body.classList.remove('typing');
    reply.article.removeAttribute('aria-busy');
    state.controller = null;
    setStreaming(false);
    if (document.activeElement === stopButton || document.activeElement === document.body) input.focus();
  }
  if (started) {
    $('#delete-conversation').hidden = !state.conversationId;
    loadUsage({ fresh: true }).catch(() => {});
    const items = await loadConversations(true);
    const conv = items.find((c) => c.id === state.conversationId);
    if (conv && conv.title) setTitle(conv.title);
  }
}

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  if (state.controller) return;
  const content = input.value.trim();
  if (!content) { input.focus(); return; }
  input.value = '';
  send(content);
});

input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

stopButton.addEventListener('click', () => {
  if (state.controller) state.controller.abort();
});

// ---------------------------------------------------------------- start

const user = await startShell();
if (user) {
  try {
    await loadAgents();
    setPageStatus('');
    $('#content').hidden = false;
    const wanted = queryParam('agent');
    const conversation = queryParam('conversation');
    if (state.agents.length) {
      selectAgent(wanted, { keepConversation: !!conversation });
      if (conversation) await openConversation(conversation);
    } else {
      newConversation();
    }
  } catch (err) {
    if (!handleAuthLoss(err)) setPageStatus(`The chat could not be loaded. ${err.message}`, { kind: 'error', retry: true });
  }
}
