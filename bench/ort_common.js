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

// One random input per input of session: integers in [0, high) for int64 and
// int32 (high 100, or point.high[name]; every element point.values[name] when
// given: a sample rate, a step count), floats in [-1, 1) otherwise. A
// symbolic dim takes its value from point.dims (a name missing there is an
// error when point.dims is given; without it every unknown dim is 1).
function feeds(ort, session, seed, point = {}) {
  const r = rng(seed);
  const out = {};
  const meta = session.inputMetadata || [];
  const dimsOf = point.dims || null, high = point.high || {}, values = point.values || {};
  session.inputNames.forEach((name, i) => {
    const m = meta[i] || {};
    const dims = (m.shape || [1]).map(d => {
      if (typeof d === 'number' && d >= 0) return d;
      if (!dimsOf) return 1;
      if (typeof d === 'string' && d in dimsOf) return dimsOf[d];
      throw new Error(`input '${name}': no value given for its dim '${d}' (--dims NAME=VALUE)`);
    });
    const n = dims.reduce((a, b) => a * b, 1);
    const type = m.type || 'float32';
    const hi = high[name] || 100;
    const int = name in values ? () => values[name] : () => Math.floor(r() * hi);
    if (type === 'int64') out[name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => BigInt(int())), dims);
    else if (type === 'int32') out[name] = new ort.Tensor('int32', Int32Array.from({ length: n }, int), dims);
    else out[name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => r() * 2 - 1), dims);
  });
  return out;
}

// "a=1,b=2" -> { a: 1, b: 2 }
function parseAssignments(text) {
  const out = {};
  for (const part of text.split(',').filter(Boolean)) {
    const m = /^([^=]+)=(\d+)$/.exec(part);
    if (!m) throw new Error(`'${part}': expected NAME=INTEGER`);
    out[m[1]] = parseInt(m[2], 10);
  }
  return out;
}

module.exports = { loadOrt, feeds, parseAssignments };
