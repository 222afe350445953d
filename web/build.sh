#!/usr/bin/env bash
# Builds the web page into web/dist/: the engine compiled to WebAssembly
# (wasm-bindgen glue, optimised by binaryen's wasm-opt), the page's own
# files from web/www/, and KaTeX's CSS, JS and fonts vendored from npm —
# nothing is fetched from a CDN when the page runs.
#
#   bash web/build.sh        (from anywhere; needs cargo, rustup, node, npm)
#
# Installs what it lacks: the wasm32 target, wasm-bindgen-cli at exactly the
# version of the wasm-bindgen crate in Cargo.lock, and web/'s npm packages.
set -euo pipefail
web="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$web")"
dist="$web/dist"
cd "$root"

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown

# The CLI must match the crate exactly (their wire format is unversioned).
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$want" ]; then
  echo "web/build.sh: installing wasm-bindgen-cli $want (found: ${have:-none})"
  # Not --locked: its lock file names a webpki-roots release the registry
  # here does not serve. Without the default TLS feature it skips rustls
  # and ring, which it only needs to download test runners. --debug halves
  # the install's CPU (about 2 min instead of 4 on this machine) and costs
  # 1 s per run; the output is byte-for-byte the same.
  cargo install --quiet --debug --version "$want" --no-default-features wasm-bindgen-cli
fi

if [ ! -d "$web/node_modules/katex" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$web" --no-audit --no-fund --loglevel=error
fi

cargo build --quiet -p matcalc-web --lib --target wasm32-unknown-unknown --profile wasm

rm -rf "$dist"
mkdir -p "$dist/katex/fonts"
wasm-bindgen --target web --no-typescript --out-dir "$dist" --out-name matcalc_web \
  "${CARGO_TARGET_DIR:-$root/target}/wasm32-unknown-unknown/wasm/matcalc_web.wasm"
# wasm-opt -Os: 1.40 MB → 1.06 MB (gzipped 450 → 418 KB) after LLVM's -Os,
# for about 20 s of CPU; -Oz gains nothing more.
"$web/node_modules/.bin/wasm-opt" -Os --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$dist/matcalc_web_bg.wasm" -o "$dist/matcalc_web_bg.wasm"

cp "$web"/www/* "$dist/"
katex="$web/node_modules/katex/dist"
cp "$katex/katex.min.css" "$katex/katex.min.js" "$dist/katex/"
cp "$katex"/fonts/*.woff2 "$katex"/fonts/*.woff "$dist/katex/fonts/"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || true)"
printf '// Written by web/build.sh: the commit this page was built from.\nwindow.MATCALC_COMMIT = "%s";\n' "$commit" >"$dist/build.js"

# the files the service worker (sw.js) keeps for offline use
(cd "$dist" && find . -type f ! -name sw.js ! -name files.json ! -name '*.woff' | sed 's|^\./||' | sort |
  awk 'BEGIN { printf "[\"./\"" } { printf ", \"%s\"", $0 } END { print "]" }') >"$dist/files.json"

size="$(gzip -9 -c "$dist/matcalc_web_bg.wasm" | wc -c)"
echo "web/build.sh: built $dist (wasm $(wc -c <"$dist/matcalc_web_bg.wasm") bytes, $size gzipped)"
if [ "$size" -ge 1500000 ]; then
  echo "web/build.sh: the gzipped wasm is over 1.5 MB" >&2
  exit 1
fi
