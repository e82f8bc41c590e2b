#!/usr/bin/env bash
# Installs Ajv for tools/json-schema-validator, the independent JSON Schema validator the deployment tests use
# (AppHostManifestTests checks the AppHost's Aspire manifest against the published schema). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../tools/json-schema-validator"
if [ ! -d node_modules/ajv ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
