#!/usr/bin/env bash
# Checks the layer rule of ARCHITECTURE.md from the packages' dependencies
# (go list, transitive, test files aside): only the root package adapts to
# Caddy, so no other package may depend on a Caddy package (caddy-build,
# integration_test, bench and internal are programs and test helpers, not
# layers); and engine (Engine.IO) must not depend on socketio (Socket.IO),
# which is built on it. Prints every violation and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
module=$(go list -m)
violations=$(go list -f '{{.ImportPath}} {{join .Deps " "}}' ./... | awk -v m="$module" '
  function under(p, dir) { return p == m "/" dir || index(p, m "/" dir "/") == 1 }
  {
    pkg = $1
    if (pkg == m || under(pkg, "caddy-build") || under(pkg, "integration_test") || under(pkg, "bench") || under(pkg, "internal")) next
    for (i = 2; i <= NF; i++) {
      if ($i ~ /^github\.com\/caddyserver\/caddy(\/|$)/) {
        print pkg " depends on " $i ": only the root package may use Caddy; move the Caddy part to the root"
        break
      }
    }
    if (under(pkg, "engine")) {
      for (i = 2; i <= NF; i++) {
        if (under($i, "socketio")) {
          print pkg " depends on " $i ": engine is below socketio and must not use it"
          break
        }
      }
    }
  }')
if [[ -n $violations ]]; then
  echo "layer rule broken:" >&2
  echo "$violations" >&2
  exit 1
fi
