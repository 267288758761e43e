#!/usr/bin/env node
// Latency of an optimized model relative to its original in ONNX Runtime
// (onnxruntime-node), single thread, sequential execution. Runs are
// interleaved (original, optimized, original, ...) after a warm-up so machine
// noise cancels, and the median of the per-pair ratios is reported, with the
// largest output difference, with every per-pair ratio (for intervals).
//
// usage: node bench/ort_compare.js ORIGINAL.onnx OPTIMIZED.onnx [--pairs N] [--levels disabled,basic,all]
//                                  [--ort-basic]   (also time ORT's own offline basic-level output, and
//                                                   the optimized model against it at level disabled)
// Prints one JSON object.
'use strict';
const path = require('path');
const os = require('os');
const fs = require('fs');

const { loadOrt, feeds } = require('./ort_common');

const ort = loadOrt();

async function session(file, level) {
  return ort.InferenceSession.create(file, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: level,
  });
}

async function timeRun(s, f) {
  const t0 = process.hrtime.bigint();
  const out = await s.run(f);
  return [Number(process.hrtime.bigint() - t0) / 1e6, out];
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function maxDiff(a, b) {
  let abs = 0, rel = 0, scale = 0;
  for (const k of Object.keys(a)) {
    if (!b[k]) return { abs: Infinity, rel: Infinity, missing: k };
    const x = a[k].data, y = b[k].data;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(Number(x[i]) - Number(y[i]));
      abs = Math.max(abs, d);
      scale = Math.max(scale, Math.abs(Number(x[i])));
      rel = Math.max(rel, d / Math.max(Math.abs(Number(x[i])), 1e-6));
    }
  }
  return { abs, rel, scale, rel_to_scale: scale > 0 ? abs / scale : abs };
}

async function compare(orig, opt, level, pairs) {
  const a = await session(orig, level), b = await session(opt, level);
  const f = feeds(ort, a, 1);
  const [, oa] = await timeRun(a, f);
  const [, ob] = await timeRun(b, f);
  for (let i = 0; i < 2; i++) { await a.run(f); await b.run(f); }
  const ratios = [], ta = [], tb = [];
  for (let i = 0; i < pairs; i++) {
    const [x] = await timeRun(a, f);
    const [y] = await timeRun(b, f);
    ta.push(x); tb.push(y); ratios.push(y / x);
  }
  await a.release();   // a large model's sessions would otherwise pile up across levels
  await b.release();
  return { level, ratio: median(ratios), orig_ms: median(ta), opt_ms: median(tb), diff: maxDiff(oa, ob), ratios };
}

async function main() {
  const args = process.argv.slice(2);
  const orig = args[0], opt = args[1];
  let pairs = 10, levels = ['disabled', 'all'], ortBasic = false;
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--pairs') pairs = parseInt(args[++i], 10);
    else if (args[i] === '--levels') levels = args[++i].split(',');
    else if (args[i] === '--ort-basic') ortBasic = true;
  }
  const res = { original: orig, optimized: opt, ort_version: require(path.join(path.dirname(require.resolve('onnxruntime-node/package.json', { paths: [path.join(__dirname, 'node_modules'), process.env.ORT_NODE_MODULES || '.'] })), 'package.json')).version, graphsub: [], ort_basic: [] };
  for (const level of levels) res.graphsub.push(await compare(orig, opt, level, pairs));
  if (ortBasic) {
    const out = path.join(os.tmpdir(), `ort-basic-${process.pid}.onnx`);
    await ort.InferenceSession.create(orig, { graphOptimizationLevel: 'basic', optimizedModelFilePath: out, intraOpNumThreads: 1 });
    for (const level of levels) res.ort_basic.push(await compare(orig, out, level, pairs));
    // graphsub's output against ORT's basic output directly, at ORT disabled
    res.vs_ort_basic = [await compare(out, opt, 'disabled', pairs)];
    fs.unlinkSync(out);
  }
  console.log(JSON.stringify(res));
}

main().catch(e => { console.error(`ort_compare: ${e.message}`); process.exit(1); });
