// The page: reads the fields (and the URL fragment), sends one job at a
// time to the engine's worker (worker.js), and renders what comes back —
// KaTeX, text, derivation, component form, NumPy, the check verdict, or a
// diagnostic with its caret under the input. The page decides nothing
// about the mathematics; it only shows what the engine answers.

const $ = (id) => document.getElementById(id);
const field = {
  expr: $('expr'), cmd: $('cmd'), wrt: $('wrt'), decls: $('decls'), form: $('form-select'),
};
const DERIVATIVES = ['diff', 'entrywise', 'grad', 'hessian', 'jacobian'];
const VERDICT_KIND = {
  diff: 'differential', entrywise: 'entrywise', grad: 'gradient', hessian: 'hessian', jacobian: 'jacobian',
};

let worker = null;
let nextId = 1;
let current = null;   // the job the worker is on: {id, started, ...}
let pending = null;   // the newest job not yet sent
let indices = '';     // entry indices from a link such as wrt=X_kl
let firstAnswer = true;
let lastAnswer = null;

// ---- the state and the URL fragment -------------------------------------

function readHash() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (!p.has('expr')) return false;
  field.expr.value = p.get('expr');
  field.decls.value = p.get('where') || '';
  field.form.value = ['default', 'expand', 'factor'].includes(p.get('form')) ? p.get('form') : 'default';
  let cmd = p.get('cmd') || 'diff';
  let wrt = p.get('wrt') || '';
  indices = '';
  const entry = /^(.+)_([a-z]{1,2})$/.exec(wrt);
  if ((cmd === 'diff' || cmd === 'entrywise') && entry) {
    cmd = 'entrywise';
    wrt = entry[1];
    indices = entry[2];
  }
  field.cmd.value = DERIVATIVES.concat(['simplify', 'check']).includes(cmd) ? cmd : 'diff';
  setWrtOptions([{ name: wrt }], wrt);
  return true;
}

function writeHash(wrtUsed) {
  const cmd = field.cmd.value;
  const parts = [
    ['cmd', cmd === 'entrywise' ? 'diff' : cmd],
    ['expr', field.expr.value],
  ];
  if (cmd !== 'simplify') parts.push(['wrt', wrtUsed || field.wrt.value]);
  if (field.decls.value.trim()) parts.push(['where', field.decls.value]);
  if (field.form.value !== 'default') parts.push(['form', field.form.value]);
  const hash = '#' + parts.map(([k, v]) => k + '=' + encodeURIComponent(v)).join('&');
  if (hash !== location.hash) history.replaceState(null, '', hash);
}

function setWrtOptions(vars, chosen) {
  const sel = field.wrt;
  const names = vars.map((v) => v.name).filter((n) => n);
  if (chosen && !names.includes(chosen)) names.push(chosen);
  const same = names.length === sel.options.length && names.every((n, i) => sel.options[i].value === n);
  if (!same) {
    sel.replaceChildren(...names.map((n) => {
      const kind = (vars.find((v) => v.name === n) || {}).kind;
      const o = new Option(kind ? `${n} (${kind})` : n, n);
      return o;
    }));
  }
  if (chosen) sel.value = chosen;
}

// ---- the worker -----------------------------------------------------------

let loaded = false; // whether any worker has loaded the engine

function startWorker() {
  const boot = window.matcalcBoot;
  window.matcalcBoot = null;
  worker = boot ? boot.worker : new Worker('worker.js', { type: 'module' });
  worker.onmessage = (e) => onReply(e.data);
  worker.onerror = (e) => crashed(e.message || 'the engine failed to start');
  if (boot) for (const m of boot.said) onReply(m);
}

function restartWorker(why) {
  worker.terminate();
  current = null;
  startWorker();
  note(why);
  if (pending) send();
}

function crashed(message) {
  showError({
    message: 'internal error (a bug in matcalc): ' + message,
    help: 'the page restarted its engine; edit the input to go on',
    origin: 'panic', spans: [], source: '', rendered: '',
  });
  if (!loaded) {
    // it never loaded: restarting would fail the same way
    setStatus('The engine could not be loaded in this browser.');
    return;
  }
  setStatus('The engine stopped on an internal error and was restarted.');
  restartWorker('');
}

/// `simplify` takes no variable.
function syncFields() {
  field.wrt.disabled = field.cmd.value === 'simplify';
}

function job(extra = {}) {
  return {
    op: 'answer',
    cmd: field.cmd.value,
    expr: field.expr.value,
    wrt: field.wrt.value,
    indices,
    decls: field.decls.value,
    form: field.form.value,
    steps: $('steps').open,
    ...extra,
  };
}

/// Asks for an answer to the fields as they are now.
function request(extra) {
  syncFields();
  pending = { ...job(extra), id: nextId++ };
  if (!current) send();
}

function send() {
  current = { ...pending, started: performance.now() };
  pending = null;
  worker.postMessage(current);
  $('results').setAttribute('aria-busy', 'true');
}

function onReply(m) {
  if (m.type === 'ready') {
    loaded = true;
    window.__matcalcReadyMs ??= performance.now();
    $('version').textContent = m.version + (window.MATCALC_COMMIT ? ` (${window.MATCALC_COMMIT})` : '');
    $('functions').replaceChildren(...m.functions.flatMap((f, i) => {
      const c = document.createElement('code');
      c.textContent = f;
      return i ? [', ', c] : [c];
    }));
    return;
  }
  if (m.type === 'crash') return crashed(m.message);
  if (!current || m.id !== current.id) return;
  if (m.type === 'variables') {
    if (m.vars.variables) setWrtOptions(m.vars.variables, m.wrt);
  } else if (m.type === 'answer') {
    showAnswer(m.answer, m.wrt, m.ms);
  } else if (m.type === 'check') {
    showCheck(m.check);
  } else if (m.type === 'done') {
    current = null;
    $('results').setAttribute('aria-busy', 'false');
    if (pending) send();
  }
}

// A job that runs long while newer input waits is abandoned: the worker is
// replaced (the engine's own limits bound it, but typing must not wait).
setInterval(() => {
  if (!current) return;
  const ms = performance.now() - current.started;
  if (ms > 800) setStatus('Computing…');
  if (pending && ms > 3000) restartWorker('The previous input was still computing after 3 s and was stopped.');
}, 250);

// ---- showing results ------------------------------------------------------

function setStatus(s) { $('status').textContent = s; }

function note(s) {
  if (!s) return;
  const li = document.createElement('li');
  li.textContent = s;
  $('notes').append(li);
}

function katexInto(el, latex) {
  if (window.katex) {
    window.katex.render(latex, el, { displayMode: true, throwOnError: false });
  } else {
    el.textContent = latex;
  }
}

function clearCarets() {
  $('caret').textContent = '';
  $('decls-caret').textContent = '';
  field.expr.removeAttribute('aria-invalid');
  field.decls.removeAttribute('aria-invalid');
}

/// Carets under the labelled spans (UTF-16 offsets into the box's text),
/// then the labels' words, as the CLI draws them.
function caretInto(el, spans) {
  let line = '';
  for (const [s, e] of spans) {
    if (s < line.length) continue;
    line += ' '.repeat(s - line.length) + '^'.repeat(Math.max(1, e - s));
  }
  const words = spans.map((sp) => sp[2]).filter((t) => t).join('; ');
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = words ? ' ' + words : '';
  el.replaceChildren(line, label);
}

function showError(err) {
  clearCarets();
  $('answer').hidden = true;
  $('error').hidden = false;
  $('error-message').textContent = 'error: ' + err.message;
  $('error-help').textContent = err.help ? 'help: ' + err.help : '';
  // the caret goes under the box the diagnostic is about
  let box = null;
  if (err.origin === 'input' && err.source === field.expr.value) box = [field.expr, $('caret')];
  if (err.origin === '--where' && err.source === field.decls.value) box = [field.decls, $('decls-caret')];
  if (box && err.spans.length) {
    box[0].setAttribute('aria-invalid', 'true');
    caretInto(box[1], err.spans);
    box[1].style.transform = `translateX(${-box[0].scrollLeft}px)`;
    $('error-rendered').textContent = '';
  } else {
    $('error-rendered').textContent = err.rendered || '';
  }
}

function showAnswer(a, wrtUsed, ms) {
  writeHash(wrtUsed);
  if (firstAnswer) {
    firstAnswer = false;
    // since the navigation started (performance's time origin)
    window.__matcalcFirstAnswerMs = performance.now();
    // offline use, once the first answer is in (sw.js)
    if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
  }
  $('notes').replaceChildren();
  if (a.error) {
    showError(a.error);
    setStatus('');
    return;
  }
  lastAnswer = a;
  clearCarets();
  $('error').hidden = true;
  $('answer').hidden = false;
  setStatus(`Answered in ${Math.max(1, Math.round(ms))} ms.`);
  const isCheck = a.command === 'check';
  $('math').hidden = isCheck;
  if (!isCheck) katexInto($('math'), a.latex);
  $('text').textContent = a.text;
  $('verdict').textContent = '';
  $('verdict').className = 'verdict';
  if (isCheck) showCheck({ json: a.json, passed: a.passed }, true);
  $('index-pane').hidden = isCheck || a.index === null;
  $('index').textContent = a.index || '';
  $('numpy-pane').hidden = isCheck;
  $('numpy').textContent = a.numpy !== null && a.numpy !== undefined
    ? a.numpy : `# no NumPy code: ${(a.unavailable || {}).numpy || 'not available'}`;
  $('steps').hidden = isCheck || a.command === 'simplify';
  showSteps(a.steps);
  for (const n of a.notes || []) note('note: ' + n);
}

function showSteps(steps) {
  if (!steps) {
    $('steps-math').replaceChildren();
    $('steps-text').textContent = $('steps').open ? 'Computing the derivation…' : '';
    return;
  }
  if (steps.error) {
    $('steps-math').replaceChildren();
    $('steps-text').textContent = 'error: ' + steps.error.message;
    return;
  }
  katexInto($('steps-math'), steps.latex);
  $('steps-text').textContent = steps.text;
}

function describe(v) {
  if (v.passed && v.exact) return `verified exactly at ${v.points} points`;
  if (v.passed && v.points !== null) {
    return `verified numerically at ${v.points} points (max relative error ${Number(v.max_rel_error).toExponential(1)})`;
  }
  return v.summary;
}

function showCheck(check, all = false) {
  const el = $('verdict');
  const report = JSON.parse(check.json);
  const cmd = field.cmd.value;
  const vs = all ? report.verdicts : report.verdicts.filter((v) => v.kind === VERDICT_KIND[cmd]);
  if (!vs.length) return;
  el.className = 'verdict ' + (vs.every((v) => v.passed) ? 'pass' : 'fail');
  el.replaceChildren(...vs.map((v) => {
    const line = document.createElement('span');
    const mark = v.passed ? '✓' : '✗';
    line.textContent = `${mark} ${all ? v.kind + ': ' : 'check: '}${describe(v)}`;
    return line;
  }));
}

// ---- copying --------------------------------------------------------------

async function copy(button) {
  const text = $(button.dataset.copy).textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const t = document.createElement('textarea');
    t.value = text;
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  const label = button.textContent;
  button.textContent = 'Copied ✓';
  setTimeout(() => { button.textContent = label; }, 1500);
}

// ---- wiring ---------------------------------------------------------------

let timer = 0;
function debounced() {
  clearTimeout(timer);
  timer = setTimeout(() => request(), 120);
}

field.expr.addEventListener('input', () => { indices = ''; debounced(); });
field.decls.addEventListener('input', debounced);
field.expr.addEventListener('scroll', () => {
  $('caret').style.transform = `translateX(${-field.expr.scrollLeft}px)`;
});
field.expr.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') { clearTimeout(timer); request(); }
});
field.wrt.addEventListener('change', () => { indices = ''; });
for (const f of [field.cmd, field.wrt, field.form]) f.addEventListener('change', () => request());
$('steps').addEventListener('toggle', () => {
  if ($('steps').open && lastAnswer && !lastAnswer.steps) request();
});
for (const b of document.querySelectorAll('button.copy')) b.addEventListener('click', () => copy(b));
window.addEventListener('hashchange', () => { if (readHash()) request(); });
// the robustness test's hook: make the engine panic on purpose
window.__matcalcPanic = () => request({ op: 'panic' });

startWorker();
readHash();
request();
