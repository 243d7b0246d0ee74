#!/usr/bin/env bash
# Renders deploy/kubernetes/ from the Helm chart (default values, with the
# Secret left to the operator), with the Helm Go SDK: no helm binary needed.
# CI (deploy/chartcheck tests) fails when the checked-in files differ.
set -euo pipefail
cd "$(dirname "$0")/chartcheck"
go run ./cmd/render -chart ../helm/switchyard -out ../kubernetes
