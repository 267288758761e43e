// Loads onnxruntime-node for the bench scripts: from $ORT_NODE_MODULES, or
// from bench/node_modules (npm install --ignore-scripts, see bench/README.md).
'use strict';
const path = require('path');

function loadOrt() {
  const dirs = [process.env.ORT_NODE_MODULES, path.join(__dirname, 'node_modules')].filter(Boolean);
  for (const d of dirs) {
    try { return require(path.join(d, 'onnxruntime-node')); } catch (e) { /* next */ }
  }
  throw new Error('onnxruntime-node not found: run (cd bench && npm install --ignore-scripts onnxruntime-node)');
}

module.exports = { loadOrt };
