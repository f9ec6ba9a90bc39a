#!/usr/bin/env bash
# Screenshots of report.html pages with headless Chromium (Debian's `chromium` package):
#   tools/report-screenshots.sh RUN_DIR OUT.png [WIDTH HEIGHT]
# e.g. after `gradus train examples/mnist-mlp.toml`:
#   tools/report-screenshots.sh runs/mnist-mlp docs/report-mnist-mlp.png
# Installs chromium with apt-get when it is missing (needs root). Checks that the page renders
# every section before taking the picture (the same ids the report test checks).
set -euo pipefail
run_dir=${1:?usage: tools/report-screenshots.sh RUN_DIR OUT.png [WIDTH HEIGHT]}
out=${2:?usage: tools/report-screenshots.sh RUN_DIR OUT.png [WIDTH HEIGHT]}
width=${3:-1280}
height=${4:-3000}
page="$run_dir/report.html"
[ -f "$page" ] || { echo "error: $page not found (train the run first)" >&2; exit 1; }
if ! command -v chromium >/dev/null; then
  echo "chromium not found: installing Debian's package" >&2
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
for id in summary curves test timing layers task schedule model config warnings; do
  grep -q "<section id=\"$id\">" "$page" || { echo "error: $page has no section '$id'" >&2; exit 1; }
done
abs=$(cd "$(dirname "$page")" && pwd)/report.html
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="$width,$height" --screenshot="$out" "file://$abs" 2>/dev/null
[ -s "$out" ] || { echo "error: chromium wrote no screenshot" >&2; exit 1; }
echo "wrote $out"
