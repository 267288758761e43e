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
//                                  [--keep-ort-basic FILE]   (and keep that output in FILE)
//                                  [--dims NAME=V,...]       (values of the symbolic dims: a dynamic
//                                                             model's point; each must be given)
//                                  [--int-high INPUT=H,...]  (integer inputs drawn from [0, H); default 100)
//                                  [--int-value INPUT=V,...] (integer inputs of every element V: a sample
//                                                             rate, a loop's step count)
//                                  [--optimized-first]       (create the optimized model's session before
//                                                             the original's: where the runtime puts
//                                                             each one's buffers follows that order)
// Prints one JSON object; a comparison that failed has an 'error' in place of its figures.
'use strict';
const path = require('path');
const os = require('os');
const fs = require('fs');

const { loadOrt, feeds, parseAssignments } = require('./ort_common');

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
    if (a[k].dims.join() !== b[k].dims.join()) return { abs: Infinity, rel: Infinity, shape: k };
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

async function compare(orig, opt, level, pairs, point, optFirst = false) {
  let a, b;
  const original = async () => {
    try { a = await session(orig, level); } catch (e) {
      // the runtime refuses the model graphsub was given: not graphsub's failure
      const err = new Error(`original refused at ${level}: ${e.message}`);
      err.originalRefused = true;
      throw err;
    }
  };
  if (optFirst) {
    b = await session(opt, level);
    try { await original(); } catch (e) { await b.release(); throw e; }
  } else {
    await original();
    try { b = await session(opt, level); } catch (e) { await a.release(); throw e; }
  }
  const f = feeds(ort, a, 1, point);
  const [, oa] = await timeRun(a, f);
  const [, ob] = await timeRun(b, f);
  for (let i = 0; i < 2; i++) { await a.run(f); await b.run(f); }
  const ratios = [], ta = [], tb = [];
  for (let i = 0; i < pairs; i++) {
    let x, y;
    if (i % 2 === 0) { [x] = await timeRun(a, f); [y] = await timeRun(b, f); }
    else { [y] = await timeRun(b, f); [x] = await timeRun(a, f); }
    ta.push(x); tb.push(y); ratios.push(y / x);
  }
  await a.release();   // a large model's sessions would otherwise pile up across levels
  await b.release();
  return { level, ratio: median(ratios), orig_ms: median(ta), opt_ms: median(tb), diff: maxDiff(oa, ob), ratios };
}

// a comparison that could not be made; original_refused when the runtime
// would not load the original itself at that level
function failed(level, e) {
  return e.originalRefused ? { level, error: e.message, original_refused: true } : { level, error: e.message };
}

async function main() {
  const args = process.argv.slice(2);
  const orig = args[0], opt = args[1];
  let pairs = 10, levels = ['disabled', 'all'], ortBasic = false, keep = null, optFirst = false;
  const point = {};
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--pairs') pairs = parseInt(args[++i], 10);
    else if (args[i] === '--levels') levels = args[++i].split(',');
    else if (args[i] === '--ort-basic') ortBasic = true;
    else if (args[i] === '--keep-ort-basic') { ortBasic = true; keep = args[++i]; }
    else if (args[i] === '--dims') point.dims = parseAssignments(args[++i]);
    else if (args[i] === '--int-high') point.high = parseAssignments(args[++i]);
    else if (args[i] === '--int-value') point.values = parseAssignments(args[++i]);
    else if (args[i] === '--optimized-first') optFirst = true;
    else throw new Error(`unexpected argument '${args[i]}'`);
  }
  const res = { original: orig, optimized: opt, ort_version: require(path.join(path.dirname(require.resolve('onnxruntime-node/package.json', { paths: [path.join(__dirname, 'node_modules'), process.env.ORT_NODE_MODULES || '.'] })), 'package.json')).version, graphsub: [], ort_basic: [] };
  if (point.dims) res.dims = point.dims;
  // a failure on graphsub's output (it does not load, or does not run) is
  // recorded in its row, and ORT's basic output is still timed as the peer
  for (const level of levels) {
    try { res.graphsub.push(await compare(orig, opt, level, pairs, point, optFirst)); } catch (e) { res.graphsub.push(failed(level, e)); }
  }
  if (ortBasic) {
    const out = path.join(os.tmpdir(), `ort-basic-${process.pid}.onnx`);
    await ort.InferenceSession.create(orig, { graphOptimizationLevel: 'basic', optimizedModelFilePath: out, intraOpNumThreads: 1 });
    for (const level of levels) {
      try { res.ort_basic.push(await compare(orig, out, level, pairs, point, optFirst)); } catch (e) { res.ort_basic.push(failed(level, e)); }
    }
    // graphsub's output against ORT's basic output directly, at ORT disabled
    try { res.vs_ort_basic = [await compare(out, opt, 'disabled', pairs, point, optFirst)]; } catch (e) { res.vs_ort_basic = [failed('disabled', e)]; }
    if (keep) fs.copyFileSync(out, keep);   // not a rename: the temp folder may be another file system
    fs.unlinkSync(out);
  }
  console.log(JSON.stringify(res));
}

main().catch(e => { console.error(`ort_compare: ${e.message}`); process.exit(1); });
