#!/usr/bin/env bash
# Installs the Node packages the tests drive, exactly as locked: the contract suite's independent clients
# (clients/contract, for LlmWorkflow.Tests/Contract) and the TypeScript client package (clients/typescript, for
# LlmWorkflow.Tests/Clients), which is then built to dist/ with tsc, and the official MCP TypeScript SDK (clients/mcp-node,
# for LlmWorkflow.Tests/Mcp/McpNodeClientTests).
# Idempotent: skips npm ci where node_modules already matches the lockfile.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v npm >/dev/null 2>&1; then
  echo "contract-setup: npm is not installed (apt-get install -y nodejs npm)" >&2
  exit 1
fi

install_locked() {
  local dir="$1"
  cd "$root/$dir"
  if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json .installed-package-lock.json 2>/dev/null; then
    echo "contract-setup: $dir/node_modules is up to date"
    return
  fi
  npm ci --no-audit --no-fund
  cp package-lock.json .installed-package-lock.json
  echo "contract-setup: installed $(ls node_modules | wc -l) packages in $dir"
}

install_locked clients/contract
install_locked clients/typescript
install_locked clients/mcp-node
cd "$root/clients/typescript"
npm run --silent build
echo "contract-setup: built clients/typescript/dist"
