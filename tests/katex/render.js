// Renders every LaTeX text on stdin (separated by NUL bytes) with KaTeX in
// display mode and strict mode; prints each failure with its index and
// exits 1 if any failed. Used by tests/it/latex.rs.
const katex = require("katex");
const input = require("fs").readFileSync(0, "utf8");
let failed = 0;
input.split("\0").filter((s) => s.length > 0).forEach((tex, i) => {
  try {
    katex.renderToString(tex, { displayMode: true, throwOnError: true, strict: "error" });
  } catch (e) {
    failed += 1;
    console.log(`${i}: ${e.message}\n  ${tex}`);
  }
});
console.log(failed === 0 ? "ok" : `${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
