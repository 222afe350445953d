// The WebAssembly build answers as the native CLI does: every line of the
// coverage table (tests/cases/*.txt) is run through the wasm in Node and
// through the `matcalc` binary, and the JSON answer (text, LaTeX, shape),
// the NumPy code and the component form must be the same bytes.
//
//   node --test web/tests/parity.test.mjs   (after web/build.sh and a
//   native build; MATCALC_BIN overrides target/debug/matcalc)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { initSync, answer, version } from '../dist/matcalc_web.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = process.env.MATCALC_BIN || join(root, 'target', 'debug', 'matcalc');
const run = promisify(execFile);

initSync({ module: readFileSync(join(root, 'web', 'dist', 'matcalc_web_bg.wasm')) });

/// The coverage table's lines (format: tests/cases/README.md).
function cases() {
  const dir = join(root, 'tests', 'cases');
  const out = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    readFileSync(join(dir, file), 'utf8').split('\n').forEach((line, n) => {
      line = line.trim();
      if (!line || line.startsWith('#')) return;
      const [command, expr, wrt, decls] = line.split('|').map((s) => s.trim());
      out.push({ where: `${file}:${n + 1}`, command, expr, wrt, decls });
    });
  }
  return out;
}

/// The CLI's stdout for one case in one format ('' with the error on a
/// failure, which the wasm must then report too).
async function cli(c, format) {
  const args = [c.command, c.expr, '--wrt', c.wrt, '--format', format];
  if (c.decls) args.push('--where', c.decls);
  try {
    const { stdout } = await run(bin, args, { maxBuffer: 1 << 24 });
    return { ok: stdout.replace(/\n$/, '') };
  } catch (e) {
    return { err: (e.stdout || '') + (e.stderr || '') };
  }
}

test('the wasm build and the native CLI give the same answers on the coverage table', async () => {
  assert.ok(existsSync(bin), `no native binary at ${bin} (cargo build, or set MATCALC_BIN)`);
  const all = cases();
  assert.ok(all.length > 100, `the coverage table has ${all.length} lines`);
  const failures = [];
  // two at a time: the machine has two cores
  let next = 0;
  async function worker() {
    while (next < all.length) {
      const c = all[next++];
      const wasm = JSON.parse(answer(c.command, c.expr, c.wrt, c.decls || '', 'default', false));
      for (const format of ['json', 'numpy', 'index']) {
        const native = await cli(c, format);
        const mine = wasm.error ? undefined : wasm[format];
        if (native.ok === undefined ? mine !== undefined && mine !== null : native.ok !== mine) {
          failures.push(`${c.where} ${c.command} '${c.expr}' --wrt ${c.wrt} --format ${format}\n` +
            `  native: ${JSON.stringify(native.ok ?? native.err)}\n  wasm:   ${JSON.stringify(mine ?? wasm.error)}`);
        }
      }
    }
  }
  await Promise.all([worker(), worker()]);
  assert.equal(failures.length, 0, failures.join('\n'));
  console.log(`# ${all.length} cases × 3 formats equal (matcalc ${version()})`);
});
