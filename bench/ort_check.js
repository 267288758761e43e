#!/usr/bin/env node
// Correctness of an optimized model in ONNX Runtime (onnxruntime-node), no
// timing: the original and the optimized model are loaded at each level, run
// once on the same random inputs, and their outputs compared; optionally ONNX
// Runtime's own offline output at level basic (optimizedModelFilePath) is
// written to a file for comparison of the graphs.
//
// usage: node bench/ort_check.js ORIGINAL.onnx OPTIMIZED.onnx [--levels disabled,all]
//                                [--write-ort-basic FILE] [--dims NAME=V,...] [--int-high INPUT=H,...]
// Prints one JSON object: {ort_version, levels: [{level, diff} or {level, error}], ort_basic}. An
// original that does not load at a level is run at level disabled for it ({level, diff, original_error}).
// diff is {abs, rel_to_scale, scale} over all outputs, or {missing}/{shape} naming the output.
'use strict';
const path = require('path');
const { loadOrt, feeds, parseAssignments } = require('./ort_common');

const ort = loadOrt();

function session(file, level, extra = {}) {
  return ort.InferenceSession.create(file, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: level, ...extra,
  });
}

function values(t) {
  // float16 tensors come back as Uint16Array bits
  if (t.type !== 'float16') return t.data;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) {
    const h = t.data[i], s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    out[i] = s * (e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15));
  }
  return out;
}

function maxDiff(a, b) {
  let abs = 0, scale = 0;
  for (const k of Object.keys(a)) {
    if (!b[k]) return { missing: k, abs: Infinity };
    if (a[k].dims.join() !== b[k].dims.join()) {
      return { shape: k, abs: Infinity, dims: [a[k].dims, b[k].dims] };
    }
    const x = values(a[k]), y = values(b[k]);
    for (let i = 0; i < x.length; i++) {
      const p = Number(x[i]), q = Number(y[i]);
      if (Number.isNaN(p) !== Number.isNaN(q)) return { nan: k, abs: Infinity };
      if (Number.isNaN(p)) continue;
      abs = Math.max(abs, Math.abs(p - q));
      scale = Math.max(scale, Math.abs(p));
    }
  }
  return { abs, scale, rel_to_scale: scale > 0 ? abs / scale : abs };
}

async function main() {
  const args = process.argv.slice(2);
  const orig = args[0], opt = args[1];
  let levels = ['disabled', 'all'], basicOut = null;
  const point = {};
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--levels') levels = args[++i].split(',');
    else if (args[i] === '--write-ort-basic') basicOut = args[++i];
    else if (args[i] === '--dims') point.dims = parseAssignments(args[++i]);
    else if (args[i] === '--int-high') point.high = parseAssignments(args[++i]);
    else throw new Error(`unexpected argument '${args[i]}'`);
  }
  if (!orig || !opt) throw new Error('usage: ort_check.js ORIGINAL.onnx OPTIMIZED.onnx [options]');
  const res = { original: orig, optimized: opt, levels: [] };
  res.ort_version = require(path.join(path.dirname(require.resolve('onnxruntime-node/package.json', {
    paths: [path.join(__dirname, 'node_modules'), process.env.ORT_NODE_MODULES || '.'] })), 'package.json')).version;
  for (const level of levels) {
    // an original that does not load at this level is run at level disabled instead (the optimized
    // model must still load at this level and give its outputs): original_error says so
    let a, origError = null;
    try { a = await session(orig, level); } catch (e) {
      origError = e.message.split('\n')[0].slice(0, 400);
      try { a = await session(orig, 'disabled'); } catch (e2) {
        res.levels.push({ level, error: `original: ${origError}` });
        continue;
      }
    }
    const f = feeds(ort, a, 1, point);
    try {
      const oa = await a.run(f);
      const b = await session(opt, level);
      const ob = await b.run(f);
      res.levels.push(origError ? { level, diff: maxDiff(oa, ob), original_error: origError }
                                : { level, diff: maxDiff(oa, ob) });
      await b.release();
    } catch (e) {
      res.levels.push({ level, error: e.message.split('\n')[0].slice(0, 400) });
    }
    await a.release();
  }
  if (basicOut) {
    try {
      const s = await session(orig, 'basic', { optimizedModelFilePath: basicOut });
      await s.release();
      res.ort_basic = basicOut;
    } catch (e) {
      res.ort_basic_error = e.message.split('\n')[0].slice(0, 400);
    }
  }
  console.log(JSON.stringify(res));
}

main().catch(e => { console.error(`ort_check: ${e.message}`); process.exit(1); });
