// /usage — this period's usage: a meter per metric (tokens, projects,
// documents, agents), the period and the day it resets, the plan, and the
// period's notices (80 % and 100 % of a limit, with when they were reached).
import { $, el, formatDate, handleAuthLoss, setPageStatus } from './page.js';
import { loadUsage, metricPercent, startShell } from './shell.js';
import { METRICS, METRIC_LABELS, errorNotice, usageMeter } from './ui.js';
import { planLabel } from './billing-common.js';

function render(usage) {
  const period = usage.period || {};
  const end = period.end ? new Date(period.end) : null;
  // `end` is the first instant of the next period: the last day is the one before.
  const last = end ? new Date(end.getTime() - 1000).toISOString() : null;
  $('#usage-period').textContent = period.start
    ? `Period ${formatDate(period.start)} – ${formatDate(last)}; it resets on ${formatDate(period.end)}.`
    : '';
  $('#usage-plan').textContent = `${planLabel(usage.plan)} plan`;
  $('#usage-meters').replaceChildren(...METRICS.map((m) => usageMeter(m, usage.metrics && usage.metrics[m], { idPrefix: 'usage' })));

  const full = METRICS.filter((m) => {
    const p = metricPercent(usage.metrics && usage.metrics[m]);
    return p !== null && p >= 100;
  });
  const alert = $('#usage-alert');
  if (full.length) {
    const names = full.map((m) => METRIC_LABELS[m].toLowerCase()).join(', ');
    const notice = errorNotice({ status: 402, message: `You have reached your plan's limit for: ${names}. Upgrade to raise it.` });
    notice.setAttribute('role', 'status');
    alert.replaceChildren(notice);
    alert.hidden = false;
  } else {
    alert.hidden = true;
  }

  const list = $('#history-list');
  list.replaceChildren();
  const warnings = [...(usage.warnings || [])].sort((a, b) => String(a.at).localeCompare(String(b.at)));
  for (const w of warnings) {
    const li = el('li');
    const time = el('time', null, formatDate(w.at, { time: true }));
    if (w.at) time.dateTime = w.at;
    li.append(time, ` — ${w.threshold}% of ${(METRIC_LABELS[w.metric] || w.metric).toLowerCase()} reached.`);
    list.append(li);
  }
  $('#history-empty').hidden = warnings.length > 0;
  list.hidden = warnings.length === 0;
}

const user = await startShell();
if (user) {
  try {
    render(await loadUsage());
    setPageStatus('');
    $('#content').hidden = false;
  } catch (err) {
    if (!handleAuthLoss(err)) setPageStatus(`Your usage could not be loaded. ${err.message}`, { kind: 'error', retry: true });
  }
}
