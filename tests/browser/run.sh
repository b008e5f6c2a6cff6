#!/bin/sh
# Browser tests of the Tollgate pages in headless Chromium (Debian's
# /usr/bin/chromium, driven by playwright-core; no browser download).
#
#   TG_URL=https://localhost:8443 TG_MAIL_DIR=/path/to/maildir tests/browser/run.sh
#
# Environment:
#   TG_URL         the stack under test, through nginx (required). Its origin must be
#                  the stack's configured public origin: the refresh cookie is
#                  SameSite=Strict and cookie-authenticated calls check Origin.
#   TG_MAIL_DIR    directory where the test SMTP server stores each email as .eml
#                  (the recovery tests are skipped without it)
#   TG_STRIPE_URL  base URL of the Stripe stand-in (the checkout test is skipped without it)
#   TG_CHROMIUM    Chromium binary (default /usr/bin/chromium)
# Extra arguments go to `node --test` (e.g. --test-name-pattern=recovery).
# Exits non-zero when a test fails.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ -z "${TG_URL:-}" ]; then
    echo "tests/browser/run.sh: TG_URL is not set (e.g. TG_URL=https://localhost:8443)" >&2
    exit 2
fi
if ! command -v node >/dev/null 2>&1; then
    echo "tests/browser/run.sh: node is missing (apt-get install nodejs npm)" >&2
    exit 2
fi
chromium_bin=${TG_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium_bin" ]; then
    echo "tests/browser/run.sh: $chromium_bin is missing (apt-get install chromium)" >&2
    exit 2
fi

if [ ! -d "$here/node_modules/playwright-core" ]; then
    (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$root"
# One file at a time (each drives its own Chromium); every test carries its own
# timeout, and --test-timeout/--test-force-exit bound the whole run.
exec node --test --test-concurrency=1 --test-timeout=300000 --test-force-exit "$@" tests/browser/*.test.mjs
