#!/usr/bin/env node
// ONNX Runtime on the control-flow models of control_flow.py: every
// DIR/*/case.json (written by `control_flow.py GRAPHSUB --keep DIR`) names a
// model, its inputs and the outputs numpy computes; each is run at ORT's
// levels disabled and all, and every output must match within 1e-4.
// control_flow.py runs it when onnxruntime-node is installed (cd bench &&
// npm install --ignore-scripts).
//
// usage: node tests/integration/control_flow_ort.js DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { loadOrt } = require('../../bench/ort_common');

const ort = loadOrt();
const ARRAYS = { float32: Float32Array, int64: BigInt64Array, bool: Uint8Array };

function tensor(f) {
  const data = f.dtype === 'int64' ? f.data.map(BigInt) : f.data.map(Number);
  return new ort.Tensor(f.dtype === 'bool' ? 'bool' : f.dtype, ARRAYS[f.dtype].from(data), f.dims);
}

async function check(file) {
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  const feeds = {};
  for (const [k, f] of Object.entries(c.feeds)) feeds[k] = tensor(f);
  let worst = 0;
  for (const level of ['disabled', 'all']) {
    const s = await ort.InferenceSession.create(c.model, { graphOptimizationLevel: level, logSeverityLevel: 3 });
    const out = await s.run(feeds);
    s.outputNames.forEach((name, i) => {
      const got = out[name], want = c.outputs[i];
      if (JSON.stringify(Array.from(got.dims)) !== JSON.stringify(want.dims))
        throw new Error(`${file}: ${level}: output ${name} has shape ${got.dims}, want ${want.dims}`);
      want.data.forEach((w, j) => { worst = Math.max(worst, Math.abs(Number(got.data[j]) - w)); });
    });
  }
  if (worst > 1e-4) throw new Error(`${file}: outputs differ by ${worst}`);
  return worst;
}

async function main() {
  const dir = process.argv[2];
  let n = 0;
  for (const sub of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, sub, 'case.json');
    if (!fs.existsSync(file)) continue;
    const worst = await check(file);
    console.log(`ok ${sub}: max difference ${worst.toExponential(2)}`);
    n++;
  }
  if (!n) throw new Error(`${dir}: no case.json found`);
}

main().catch(e => { console.error(`FAIL: ${e.message}`); process.exit(1); });
