#!/usr/bin/env bash
# Installs the contract suite's Node clients (clients/contract) exactly as locked, for LlmWorkflow.Tests/Contract.
# Idempotent: skips npm ci when node_modules already matches the lockfile.
set -euo pipefail
cd "$(dirname "$0")/../clients/contract"

if ! command -v npm >/dev/null 2>&1; then
  echo "contract-setup: npm is not installed (apt-get install -y nodejs npm)" >&2
  exit 1
fi

if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json .installed-package-lock.json 2>/dev/null; then
  echo "contract-setup: clients/contract/node_modules is up to date"
  exit 0
fi

npm ci --no-audit --no-fund
cp package-lock.json .installed-package-lock.json
echo "contract-setup: installed $(ls node_modules | wc -l) packages in clients/contract"
