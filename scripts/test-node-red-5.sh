#!/usr/bin/env bash
# The whole suite again on Node-RED 5 with Node 22 (the npm package node@22 provides the
# binary), in a copy of this working tree so the main install keeps Node-RED 4.1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$root" --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$work" -xf -
cd "$work"
npm install --no-fund --no-audit
npm install --no-save --no-fund --no-audit node-red@5 node@22
export PATH="$work/node_modules/node/bin:$PATH"
echo "Node $(node --version), Node-RED $(node -p "require('node-red/package.json').version")"
npm test
