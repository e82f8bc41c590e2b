#!/usr/bin/env bash
# Provider-aware admission (issue 61): JOBS one-LLM-call jobs across two in-process workers against a fake provider
# (in-process Kestrel) that allows TOKENS tokens per WINDOW seconds and answers 429 above it; first without budgets
# (each worker retries its own 429s, as before admission), then with Llm:Limits:openai:TokensPerMinute = TOKENS over
# the same window. Prints the 429s, failures, peak tokens in any window and wall time of each run.
# Usage:   bench/admission.sh            (JOBS=500 TOKENS=60000 WINDOW=60: the issue's figures, about 4 minutes)
#          JOBS=24 TOKENS=3000 WINDOW=5 bench/admission.sh   (the test's scaled-down run, about 40 s)
# Needs the test project built: dotnet build LlmWorkflow.Tests (local postgres and redis-server binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
export ADMISSION_JOBS=${JOBS:-500} ADMISSION_TOKENS=${TOKENS:-60000} ADMISSION_WINDOW_SECONDS=${WINDOW:-60}
filter="FullyQualifiedName~AdmissionPipelineTests.WithBudgets|FullyQualifiedName~AdmissionPipelineTests.ARedisThatLosesItsData"
dotnet test LlmWorkflow.Tests --no-build --filter "$filter" --logger "console;verbosity=detailed" 2>&1 \
  | grep -E "without budgets:|flushed mid-run:|Passed|Failed" || true
