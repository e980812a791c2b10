#!/usr/bin/env bash
# Installs what the tests need and is missing: Debian's chromium,
# redis-server, php-fpm and python3 (when running as root with apt-get), the npm packages pinned in
# package-lock.json, and staticcheck. Quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The hooks tests start their own php-fpm behind php_fastcgi.
compgen -G '/usr/sbin/php-fpm*' >/dev/null || need_apt+=(php-fpm)
# ... and a Python standard-library backend behind reverse_proxy.
command -v python3 >/dev/null || need_apt+=(python3)
if ((${#need_apt[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "install-deps: apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    # The package starts a redis on 6379 as a service on some images; the tests
    # start their own on free ports and need nothing else listening.
    (service redis-server stop || true) >/dev/null 2>&1
    for svc in /etc/init.d/php*-fpm; do [[ -x $svc ]] && ("$svc" stop || true) >/dev/null 2>&1; done
  else
    echo "install-deps: missing ${need_apt[*]}; install them (Debian: apt-get install ${need_apt[*]})" >&2
  fi
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.package-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

if ! command -v staticcheck >/dev/null && [[ ! -x $(go env GOPATH)/bin/staticcheck ]]; then
  echo "install-deps: go install staticcheck"
  GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
