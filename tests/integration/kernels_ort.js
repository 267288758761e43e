#!/usr/bin/env node
// ONNX Runtime's outputs for the cases of kernels_detect_quant.py and
// kernels_tensor.py: reads CASE.json ({model, feeds: {name: {dtype, dims,
// data}}}), runs the model at level disabled and prints {output name: {dims,
// data}} as JSON.
//
// usage: node tests/integration/kernels_ort.js CASE.json
'use strict';
const fs = require('fs');
const { loadOrt } = require('../../bench/ort_common');

const ort = loadOrt();
const ARRAYS = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array,
                 int8: Int8Array, bool: Uint8Array };

function tensor(f) {
  const data = f.dtype === 'int64' ? f.data.map(BigInt) : f.data.map(Number);
  return new ort.Tensor(f.dtype, ARRAYS[f.dtype].from(data), f.dims);
}

async function main() {
  const c = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const feeds = {};
  for (const [k, f] of Object.entries(c.feeds)) feeds[k] = tensor(f);
  const s = await ort.InferenceSession.create(c.model, { graphOptimizationLevel: 'disabled' });
  const out = await s.run(feeds);
  const res = {};
  for (const name of s.outputNames)
    res[name] = { dims: Array.from(out[name].dims), data: Array.from(out[name].data, Number) };
  console.log(JSON.stringify(res));
}

main().catch(e => { console.error(`FAIL: ${e.message}`); process.exit(1); });
