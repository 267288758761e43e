// What the bench scripts share: loading onnxruntime-node (from
// $ORT_NODE_MODULES, or from bench/node_modules: npm install --ignore-scripts,
// see bench/README.md) and the random inputs a model is run on.
'use strict';
const path = require('path');

function loadOrt() {
  const dirs = [process.env.ORT_NODE_MODULES, path.join(__dirname, 'node_modules')].filter(Boolean);
  for (const d of dirs) {
    try { return require(path.join(d, 'onnxruntime-node')); } catch (e) { /* next */ }
  }
  throw new Error('onnxruntime-node not found: run (cd bench && npm install --ignore-scripts onnxruntime-node)');
}

// A seeded generator of numbers in [0, 1) (splitmix64).
function rng(seed) {
  let s = BigInt(seed) + 0x9e3779b97f4a7c15n;
  return () => {
    s = (s + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return Number((z ^ (z >> 31n)) >> 11n) / 9007199254740992;
  };
}

// One random input per input of session (unknown dims taken as 1): integers
// in [0, 100) for int64 and int32, floats in [-1, 1) otherwise.
function feeds(ort, session, seed) {
  const r = rng(seed);
  const out = {};
  const meta = session.inputMetadata || [];
  session.inputNames.forEach((name, i) => {
    const m = meta[i] || {};
    const dims = (m.shape || [1]).map(d => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const type = m.type || 'float32';
    if (type === 'int64') out[name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 100))), dims);
    else if (type === 'int32') out[name] = new ort.Tensor('int32', Int32Array.from({ length: n }, () => Math.floor(r() * 100)), dims);
    else out[name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => r() * 2 - 1), dims);
  });
  return out;
}

module.exports = { loadOrt, feeds };
