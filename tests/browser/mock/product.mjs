// The product routes of the mock (shared/API.md, "The product: projects,
// documents, agents, chat; usage and quotas"): projects, documents with a small
// full-text search, agents, conversations, chat (JSON or text/event-stream),
// usage and quotas. In memory, per user; a development aid, not the contract.
//
// Controls for tests (mounted by server.mjs under /__mock/):
//   POST /__mock/limits   {"plan": "free", "limits": {"projects": 1, ...}}  override a plan's limits
//   POST /__mock/llm      {"down": true|false, "delay_ms": 40, "error_after": null|N}
//                         LiteLLM down (503 llm_unavailable), time between streamed
//                         chunks, or an `event: error` after N chunks

import { randomUUID } from 'node:crypto';

const MIB = 1024 * 1024;
const STOP = new Set(['a', 'an', 'and', 'are', 'as', 'at', 'be', 'by', 'for', 'from', 'how', 'in', 'is', 'it',
  'of', 'on', 'or', 'that', 'the', 'this', 'to', 'was', 'what', 'when', 'where', 'which', 'who', 'why', 'with']);
const MODELS = {
  free: [{ id: 'gpt-4o-mini', name: 'GPT-4o mini' }],
  pro: [{ id: 'gpt-4o-mini', name: 'GPT-4o mini' }, { id: 'claude-3-5-haiku', name: 'Claude 3.5 Haiku' }],
  enterprise: [{ id: 'gpt-4o', name: 'GPT-4o' }, { id: 'gpt-4o-mini', name: 'GPT-4o mini' },
    { id: 'claude-3-5-sonnet', name: 'Claude 3.5 Sonnet' }, { id: 'claude-3-5-haiku', name: 'Claude 3.5 Haiku' }],
};
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const escapeHtml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const terms = (text) => [...new Set(String(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) || [])]
  .filter((w) => w.length > 1 && !STOP.has(w));
const stem = (w) => w.replace(/(ing|ed|es|s)$/, '');

/** A ts_headline-like snippet: a window around the first hit, escaped, hits in <mark>. */
function snippet(content, words) {
  const stems = words.map(stem);
  const tokens = content.split(/(\s+)/);
  let first = tokens.findIndex((t) => stems.some((s) => s && stem(t.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '')) === s));
  if (first < 0) first = 0;
  const from = Math.max(0, first - 12);
  const window = tokens.slice(from, from + 50);
  return window.map((t) => {
    const bare = t.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
    return bare && stems.includes(stem(bare)) ? `<mark>${escapeHtml(t)}</mark>` : escapeHtml(t);
  }).join('').trim();
}

function rank(doc, words) {
  const text = `${doc.title} ${doc.content}`.toLowerCase();
  const hay = (text.match(/[\p{L}\p{N}]+/gu) || []).map(stem);
  let score = 0;
  for (const w of words.map(stem)) score += hay.filter((h) => h === w).length;
  return score;
}

export function productRoutes(ctx) {
  const { Problem, send, readJson, list, now, notify, planOf } = ctx;
  const limitOverrides = {};
  const llm = { down: false, delay_ms: 40, error_after: null };
  const invalid = (errors) => new Problem(422, 'validation_failed', 'The request has invalid fields.', { errors });
  const notFound = () => new Problem(404, 'not_found', 'No such resource.');

  function state(user) {
    if (!user.product) {
      user.product = { projects: new Map(), documents: new Map(), agents: new Map(), conversations: new Map(),
        tokens: { period: '', used: 0 }, warnings: [] };
    }
    return user.product;
  }

  function period() {
    const d = new Date();
    const start = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    const end = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
    const iso = (x) => x.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { start: iso(start), end: iso(end) };
  }

  function limits(user) {
    const plan = planOf(user);
    const base = ctx.PLANS.find((p) => p.code === plan) || ctx.PLANS[0];
    return { ...base.limits, ...(limitOverrides[plan] || {}) };
  }

  function tokensUsed(user) {
    const s = state(user);
    const p = period().start;
    if (s.tokens.period !== p) s.tokens = { period: p, used: 0 };
    return s.tokens.used;
  }

  function used(user, metric) {
    const s = state(user);
    if (metric === 'monthly_tokens') return tokensUsed(user);
    return s[metric].size;
  }

  const METRIC_LABEL = { projects: 'projects', documents: 'documents', agents: 'agents', monthly_tokens: 'tokens this month' };

  /** 80 % / 100 % notices once per metric and period. */
  function warn(user, metric) {
    const limit = limits(user)[metric];
    if (limit === null || limit === undefined || limit <= 0) return;
    const s = state(user);
    const p = period().start;
    const value = used(user, metric);
    for (const threshold of [80, 100]) {
      if (value * 100 < threshold * limit) continue;
      if (s.warnings.some((w) => w.metric === metric && w.threshold === threshold && w.period === p)) continue;
      s.warnings.push({ metric, threshold, at: now(), period: p });
      notify(user, 'usage_warning', `You have used ${threshold}% of your ${METRIC_LABEL[metric]}`,
        `${value.toLocaleString('en-US')} of ${limit.toLocaleString('en-US')} on your plan.`, '/usage');
    }
  }

  function checkQuota(user, metric, adding = 1) {
    const limit = limits(user)[metric];
    const value = used(user, metric);
    if (limit !== null && limit !== undefined && value + adding > limit) {
      if (metric === 'monthly_tokens') warn(user, metric);
      throw new Problem(402, 'quota_exceeded', `Your plan allows ${limit} ${METRIC_LABEL[metric]}.`,
        { metric, used: value, limit });
    }
  }

  function usage(user) {
    const lim = limits(user);
    const metrics = {};
    for (const m of ['monthly_tokens', 'projects', 'documents', 'agents']) {
      const value = used(user, m);
      const limit = lim[m] ?? null;
      metrics[m] = { used: value, limit, percent: limit === null ? null : (limit === 0 ? 100 : Math.round((value * 1000) / limit) / 10) };
      if (m === 'monthly_tokens') metrics[m].reserved = 0;
    }
    const p = period().start;
    return { period: period(), plan: planOf(user), metrics,
      warnings: state(user).warnings.filter((w) => w.period === p).map(({ metric, threshold, at }) => ({ metric, threshold, at })) };
  }

  const str = (v) => (typeof v === 'string' ? v : null);
  function checkText(errors, body, field, { min = 0, max, required = false, bytes = false, partial = false }) {
    if (partial && !(field in body)) return;
    const v = body[field];
    if (v === undefined || v === null) { if (required && !partial) errors[field] = 'is required'; return; }
    if (typeof v !== 'string') { errors[field] = 'must be a string'; return; }
    const len = bytes ? Buffer.byteLength(v, 'utf8') : [...v.trim()].length;
    if (len < min) errors[field] = min === 1 ? 'must not be empty' : `must be at least ${min} characters`;
    else if (len > max) errors[field] = bytes ? `must be at most ${max} bytes` : `must be at most ${max} characters`;
  }
  const done = (errors) => { if (Object.keys(errors).length) throw invalid(errors); };
  const newest = (items) => [...items].sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0));

  function own(map, id) {
    if (!UUID_RE.test(id || '')) throw notFound();
    const x = map.get(id);
    if (!x) throw notFound();
    return x;
  }

  const projectOut = (s, p) => ({ id: p.id, name: p.name, description: p.description,
    document_count: [...s.documents.values()].filter((d) => d.project_id === p.id).length,
    created_at: p.created_at, updated_at: p.updated_at });
  const docOut = (d) => ({ ...d, size_bytes: Buffer.byteLength(d.content, 'utf8') });
  const docListOut = (d) => {
    const { content, ...rest } = docOut(d);
    return { ...rest, excerpt: content.slice(0, 200) };
  };
  const convOut = (c) => ({ id: c.id, agent_id: c.agent_id, title: c.title, message_count: c.messages.length,
    created_at: c.created_at, updated_at: c.updated_at });

  function searchDocs(s, projectId, q) {
    const words = terms(q);
    if (!words.length) return [];
    return [...s.documents.values()].filter((d) => d.project_id === projectId)
      .map((d) => ({ d, r: rank(d, words) })).filter((x) => x.r > 0)
      .sort((a, b) => b.r - a.r)
      .map(({ d, r }) => ({ ...docListOut(d), rank: r / 10, snippet: snippet(d.content || d.title, words) }));
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  function replyFor(agent, content, sources) {
    const topic = terms(content).slice(0, 3).join(' ') || 'your question';
    let text = `Here is what I can tell you about **${topic}**.\n\n`;
    if (sources.length) {
      text += `According to *${sources[0].title}*:\n\n`;
      text += sources.map((s) => `- ${s.title}`).join('\n');
      text += '\n\n';
    } else {
      text += 'I found no matching document, so this answer is general.\n\n';
    }
    text += '1. First, read the source.\n2. Then, ask a follow-up question.\n\n`code` stays `code`, and <b>raw HTML</b> is not trusted.';
    return text;
  }

  async function chat(req, res, user, agentId) {
    const s = state(user);
    const agent = own(s.agents, agentId);
    const body = await readJson(req);
    const errors = {};
    checkText(errors, body, 'content', { min: 1, max: 32000, required: true });
    if (body.conversation_id !== undefined && body.conversation_id !== null && typeof body.conversation_id !== 'string') errors.conversation_id = 'must be a UUID';
    done(errors);
    let conv = null;
    if (body.conversation_id) {
      conv = own(s.conversations, body.conversation_id);
      if (conv.agent_id !== agent.id) throw notFound();
    }
    const estimate = Math.ceil(Buffer.byteLength(body.content, 'utf8') / 2) + 256;
    checkQuota(user, 'monthly_tokens', estimate);
    if (llm.down) {
      throw new Problem(503, 'llm_unavailable', 'The language model service is unavailable.');
    }
    const sources = agent.project_id && s.projects.has(agent.project_id)
      ? searchDocs(s, agent.project_id, body.content).slice(0, 3).map((d) => ({ document_id: d.id, title: d.title, snippet: d.snippet }))
      : [];
    const created = now();
    if (!conv) {
      let title = body.content.trim().replace(/\s+/g, ' ');
      if (title.length > 60) { title = title.slice(0, 60); const cut = title.lastIndexOf(' '); if (cut > 20) title = title.slice(0, cut); }
      conv = { id: randomUUID(), agent_id: agent.id, title, created_at: created, updated_at: created, messages: [] };
      s.conversations.set(conv.id, conv);
    }
    const prompt = (body.content.match(/\S+/g) || []).length + (agent.system_prompt.match(/\S+/g) || []).length;
    conv.messages.push({ id: randomUUID(), role: 'user', content: body.content, created_at: created, usage: null, sources: [] });
    conv.updated_at = created;
    const reply = replyFor(agent, body.content, sources);
    const message = { id: randomUUID(), role: 'assistant', content: '', created_at: now(), usage: null, sources };
    const account = (text) => {
      message.content = text;
      const completion = (text.match(/\S+/g) || []).length;
      message.usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
      tokensUsed(user);
      s.tokens.used += message.usage.total_tokens;
      conv.messages.push(message);
      conv.updated_at = now();
      warn(user, 'monthly_tokens');
    };
    const wantsStream = body.stream === true || /text\/event-stream/.test(req.headers.accept || '');
    if (!wantsStream) {
      account(reply);
      return send(res, 200, { conversation_id: conv.id, message: { id: message.id, role: 'assistant', content: reply, created_at: message.created_at },
        usage: message.usage, sources });
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Request-Id': randomUUID() });
    let closed = false;
    res.on('close', () => { closed = true; });
    const event = (name, data) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    event('start', { conversation_id: conv.id, message_id: message.id });
    const chunks = reply.match(/\S+\s*/g) || [];
    let produced = '';
    for (let i = 0; i < chunks.length; i++) {
      if (closed) break;
      if (llm.error_after !== null && i === llm.error_after) {
        account(produced);
        event('error', { code: 'llm_error', detail: 'The model stopped answering.' });
        return res.end();
      }
      await sleep(llm.delay_ms);
      if (closed) break;
      produced += chunks[i];
      // an SSE comment now and then, as a keep-alive would be
      if (i === 3) res.write(': keep-alive\n\n');
      event('delta', { content: chunks[i] });
    }
    account(produced);
    if (closed) return undefined;
    event('done', { usage: message.usage, sources });
    return res.end();
  }

  /** The /__mock/ controls of the product routes; true when it answered. */
  async function control(req, res, url) {
    if (url.pathname === '/__mock/limits' && req.method === 'POST') {
      const b = await readJson(req);
      limitOverrides[b.plan || 'free'] = { ...(limitOverrides[b.plan || 'free'] || {}), ...(b.limits || {}) };
      send(res, 200, limitOverrides);
      return true;
    }
    if (url.pathname === '/__mock/llm' && req.method === 'POST') {
      Object.assign(llm, await readJson(req));
      send(res, 200, llm);
      return true;
    }
    return false;
  }

  /** Returns true when it answered. `route(method, pattern)` gives the path parameters or null. */
  async function handle(req, res, url, user, route) {
    const s = state(user);
    let g;
    if ((g = route('GET', '/api/models'))) { send(res, 200, { items: MODELS[planOf(user)] || MODELS.free }); return true; }
    if ((g = route('GET', '/api/usage'))) { send(res, 200, usage(user)); return true; }

    // projects
    if ((g = route('GET', '/api/projects'))) {
      send(res, 200, list(newest(s.projects.values()).map((p) => projectOut(s, p)), url)); return true;
    }
    if ((g = route('POST', '/api/projects'))) {
      const b = await readJson(req);
      const errors = {};
      checkText(errors, b, 'name', { min: 1, max: 120, required: true });
      checkText(errors, b, 'description', { max: 2000 });
      done(errors);
      checkQuota(user, 'projects');
      const t = now();
      const p = { id: randomUUID(), name: b.name.trim(), description: str(b.description) || '', created_at: t, updated_at: t };
      s.projects.set(p.id, p);
      warn(user, 'projects');
      send(res, 201, projectOut(s, p)); return true;
    }
    if ((g = route('GET', '/api/projects/{id}'))) { send(res, 200, projectOut(s, own(s.projects, g.id))); return true; }
    if ((g = route('PATCH', '/api/projects/{id}'))) {
      const p = own(s.projects, g.id);
      const b = await readJson(req);
      const errors = {};
      checkText(errors, b, 'name', { min: 1, max: 120, partial: true });
      checkText(errors, b, 'description', { max: 2000, partial: true });
      done(errors);
      if ('name' in b) p.name = b.name.trim();
      if ('description' in b) p.description = str(b.description) || '';
      p.updated_at = now();
      send(res, 200, projectOut(s, p)); return true;
    }
    if ((g = route('DELETE', '/api/projects/{id}'))) {
      const p = own(s.projects, g.id);
      for (const [id, d] of s.documents) if (d.project_id === p.id) s.documents.delete(id);
      for (const a of s.agents.values()) if (a.project_id === p.id) a.project_id = null;
      s.projects.delete(p.id);
      send(res, 204, null); return true;
    }

    // documents
    if ((g = route('GET', '/api/projects/{id}/documents'))) {
      const p = own(s.projects, g.id);
      const q = url.searchParams.get('q');
      if (q !== null && q.trim()) { send(res, 200, list(searchDocs(s, p.id, q), url)); return true; }
      send(res, 200, list(newest([...s.documents.values()].filter((d) => d.project_id === p.id)).map(docListOut), url)); return true;
    }
    if ((g = route('POST', '/api/projects/{id}/documents'))) {
      const p = own(s.projects, g.id);
      const b = await readJson(req);
      const errors = {};
      checkText(errors, b, 'title', { min: 1, max: 200, required: true });
      checkText(errors, b, 'content', { max: MIB, bytes: true });
      done(errors);
      checkQuota(user, 'documents');
      const t = now();
      const d = { id: randomUUID(), project_id: p.id, title: b.title.trim(), content: str(b.content) || '', created_at: t, updated_at: t };
      s.documents.set(d.id, d);
      p.updated_at = t;
      warn(user, 'documents');
      send(res, 201, docOut(d)); return true;
    }
    const docRoute = (method) => route(method, '/api/projects/{id}/documents/{doc}');
    if ((g = docRoute('GET'))) {
      const p = own(s.projects, g.id);
      const d = own(s.documents, g.doc);
      if (d.project_id !== p.id) throw notFound();
      send(res, 200, docOut(d)); return true;
    }
    if ((g = docRoute('PATCH'))) {
      const p = own(s.projects, g.id);
      const d = own(s.documents, g.doc);
      if (d.project_id !== p.id) throw notFound();
      const b = await readJson(req);
      const errors = {};
      checkText(errors, b, 'title', { min: 1, max: 200, partial: true });
      checkText(errors, b, 'content', { max: MIB, bytes: true, partial: true });
      done(errors);
      if ('title' in b) d.title = b.title.trim();
      if ('content' in b) d.content = str(b.content) || '';
      d.updated_at = now();
      send(res, 200, docOut(d)); return true;
    }
    if ((g = docRoute('DELETE'))) {
      const p = own(s.projects, g.id);
      const d = own(s.documents, g.doc);
      if (d.project_id !== p.id) throw notFound();
      s.documents.delete(d.id);
      send(res, 204, null); return true;
    }

    // agents
    const agentOut = (a) => ({ ...a });
    const checkAgent = (b, partial) => {
      const errors = {};
      checkText(errors, b, 'name', { min: 1, max: 120, required: true, partial });
      checkText(errors, b, 'system_prompt', { max: 20000, partial });
      if (!partial || 'model' in b) {
        const models = MODELS[planOf(user)] || MODELS.free;
        if (!models.some((m) => m.id === b.model)) errors.model = 'must be one of the models of your plan';
      }
      if ((!partial || 'project_id' in b) && b.project_id !== null && b.project_id !== undefined &&
          !(typeof b.project_id === 'string' && UUID_RE.test(b.project_id) && s.projects.has(b.project_id))) {
        errors.project_id = 'must be one of your projects';
      }
      done(errors);
    };
    if ((g = route('GET', '/api/agents'))) { send(res, 200, list(newest(s.agents.values()).map(agentOut), url)); return true; }
    if ((g = route('POST', '/api/agents'))) {
      const b = await readJson(req);
      checkAgent(b, false);
      checkQuota(user, 'agents');
      const t = now();
      const a = { id: randomUUID(), name: b.name.trim(), model: b.model, system_prompt: str(b.system_prompt) || '',
        project_id: b.project_id || null, created_at: t, updated_at: t };
      s.agents.set(a.id, a);
      warn(user, 'agents');
      send(res, 201, agentOut(a)); return true;
    }
    if ((g = route('GET', '/api/agents/{id}'))) { send(res, 200, agentOut(own(s.agents, g.id))); return true; }
    if ((g = route('PATCH', '/api/agents/{id}'))) {
      const a = own(s.agents, g.id);
      const b = await readJson(req);
      checkAgent(b, true);
      for (const k of ['name', 'model', 'system_prompt', 'project_id']) if (k in b) a[k] = k === 'name' ? b.name.trim() : (b[k] ?? (k === 'system_prompt' ? '' : null));
      a.updated_at = now();
      send(res, 200, agentOut(a)); return true;
    }
    if ((g = route('DELETE', '/api/agents/{id}'))) {
      const a = own(s.agents, g.id);
      for (const [id, c] of s.conversations) if (c.agent_id === a.id) s.conversations.delete(id);
      s.agents.delete(a.id);
      send(res, 204, null); return true;
    }
    if ((g = route('GET', '/api/agents/{id}/conversations'))) {
      const a = own(s.agents, g.id);
      send(res, 200, list(newest([...s.conversations.values()].filter((c) => c.agent_id === a.id)).map(convOut), url)); return true;
    }
    if ((g = route('POST', '/api/agents/{id}/chat'))) { await chat(req, res, user, g.id); return true; }
    if ((g = route('GET', '/api/conversations/{id}'))) {
      const c = own(s.conversations, g.id);
      send(res, 200, { ...convOut(c), messages: c.messages }); return true;
    }
    if ((g = route('DELETE', '/api/conversations/{id}'))) {
      const c = own(s.conversations, g.id);
      s.conversations.delete(c.id);
      send(res, 204, null); return true;
    }
    return false;
  }

  return { handle, control };
}
