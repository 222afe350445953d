// The engine's thread: loads the WebAssembly build of matcalc and answers
// the page's jobs, so a slow input never freezes typing. One job at a time
// (the page sends the next only when this one is done); a job is
// variables → answer → check, and the check is skipped when a newer job
// is already waiting. If the engine traps (a Rust panic aborts on wasm),
// the worker reports it and the page replaces the worker.
import init, * as engine from './matcalc_web.js';

const ready = init();
let waiting = null; // the newest job not yet started
let running = false;

self.onmessage = (e) => {
  waiting = e.data;
  if (!running) run();
};

/// Calls the engine; a trap becomes a 'crash' message (and this worker is
/// then replaced by the page).
function call(fn, ...args) {
  try {
    return JSON.parse(fn(...args));
  } catch (err) {
    let message = '';
    try { message = engine.take_panic(); } catch (_) { /* the instance is gone */ }
    throw new Crash(message || String(err && err.message || err));
  }
}

class Crash extends Error {}

/// The variable to differentiate by: the one asked for if the expression
/// has it, else a conventional one (X, x, W, w, …), else the first name.
function pickWrt(vars, asked) {
  const names = vars.map((v) => v.name);
  if (names.includes(asked)) return asked;
  for (const n of ['X', 'x', 'W', 'w', 'S', 'theta', 'beta']) if (names.includes(n)) return n;
  const nonScalar = vars.find((v) => v.kind !== 'scalar');
  return (nonScalar || vars[0] || { name: asked }).name;
}

async function run() {
  running = true;
  await ready;
  while (waiting) {
    const job = waiting;
    waiting = null;
    const t0 = performance.now();
    try {
      if (job.op === 'panic') {
        call(engine.panic_for_test);
        continue;
      }
      const vars = call(engine.variables, job.expr, job.decls);
      let wrt = job.wrt;
      if (vars.variables) wrt = pickWrt(vars.variables, job.wrt);
      self.postMessage({ id: job.id, type: 'variables', vars, wrt });
      // an entrywise partial is `diff` by an entry of the variable
      let target = wrt;
      if (job.cmd === 'entrywise') {
        const v = (vars.variables || []).find((x) => x.name === wrt);
        target = wrt + '_' + (job.indices || (v && v.kind === 'vector' ? 'i' : 'ij'));
      }
      const cmd = job.cmd === 'entrywise' ? 'diff' : job.cmd;
      const answer = call(engine.answer, cmd, job.expr, target, job.decls, job.form, job.steps);
      self.postMessage({ id: job.id, type: 'answer', answer, wrt: target, ms: performance.now() - t0 });
      const derivative = ['diff', 'grad', 'hessian', 'jacobian'].includes(cmd);
      if (derivative && !answer.error) {
        // let a newer job in before the (slower) check
        await new Promise((r) => setTimeout(r, 0));
        if (!waiting) {
          const check = call(engine.answer, 'check', job.expr, wrt, job.decls, 'default', false);
          self.postMessage({ id: job.id, type: 'check', check });
        }
      }
    } catch (err) {
      if (err instanceof Crash) {
        self.postMessage({ id: job.id, type: 'crash', message: err.message });
        running = false;
        return;
      }
      self.postMessage({ id: job.id, type: 'crash', message: String(err) });
      running = false;
      return;
    } finally {
      self.postMessage({ id: job.id, type: 'done' });
    }
  }
  running = false;
}

ready.then(
  () => self.postMessage({
    type: 'ready',
    version: engine.version(),
    functions: JSON.parse(engine.functions()),
  }),
  (err) => self.postMessage({ type: 'crash', message: 'the engine did not load: ' + err }),
);
