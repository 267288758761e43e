#!/usr/bin/env node
// The timing half of bench/calibrate: times single-op models in ONNX Runtime
// (onnxruntime-node), one thread, sequential, level `disabled` so ONNX Runtime
// does not rewrite them, by its own profiler's kernel time (the op's kernel
// alone: no session.run or tensor copying), median of N runs after a warm-up.
//
// usage: node bench/ort_calibrate.js SPEC.json
// SPEC.json: {"runs": N, "warmup": W, "passes": P, "budget_ms": B, "models": [{"file": F,
//   "inputs": [{"name", "dtype", "dims"}], "outputs": [{"name", "dims"}]}]}
// The runs of an op are spread over --passes passes over all the ops (a
// group of GROUP ops at a time, their sessions open together).
// Prints one JSON line per model: {"file", "median", "min"} or {"file", "error"}.
'use strict';
const path = require('path');
const os = require('os');
const fs = require('fs');

const { loadOrt } = require('./ort_common');

const GROUP = 100;

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array, float16: Uint16Array,
};

// A seeded generator of numbers in [0, 1) (xorshift32: timings, not statistics).
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

// Floats in [-1, 1), booleans at random, integers 0 (a valid index, axis or
// count for the ops that read integer tensors).
function tensor(ort, spec, r) {
  const n = spec.dims.reduce((a, b) => a * b, 1);
  const A = ARRAYS[spec.dtype];
  if (!A) throw new Error(`input '${spec.name}': dtype ${spec.dtype} not supported`);
  const a = new A(n);
  if (spec.dtype === 'float32' || spec.dtype === 'float64') for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  else if (spec.dtype === 'float16') for (let i = 0; i < n; i++) a[i] = 0x3800 + Math.floor(r() * 0x400);  // [0.5, 1)
  else if (spec.dtype === 'bool') for (let i = 0; i < n; i++) a[i] = r() < 0.5 ? 1 : 0;
  return new ort.Tensor(spec.dtype, a, spec.dims);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Open m's session and run it once: {m, s, feeds, runs, pdir}, runs the
// number of runs of each pass (fewer for a slow op: the whole timing of the
// op within about budget_ms).
async function open(ort, m, opts, dir) {
  const pdir = fs.mkdtempSync(path.join(dir, 'm'));
  const s = await ort.InferenceSession.create(m.file, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'disabled',
    enableProfiling: true, profileFilePrefix: path.join(pdir, 'p'),
  });
  const t = { m, s, pdir, feeds: {} };
  try {
    const r = rng(12345);
    for (const i of m.inputs) t.feeds[i.name] = tensor(ort, i, r);
    const t0 = process.hrtime.bigint();
    const out = await s.run(t.feeds);
    const first = Number(process.hrtime.bigint() - t0) / 1e6;
    for (const o of m.outputs) {
      const got = out[o.name] ? out[o.name].dims.join(',') : 'none';
      if (got !== o.dims.join(',')) throw new Error(`output '${o.name}' has dims [${got}], not [${o.dims.join(',')}]`);
    }
    const total = Math.max(opts.passes, Math.min(opts.runs, Math.floor(opts.budget_ms / Math.max(first, 1e-3))));
    t.runs = Math.ceil(total / opts.passes);
    for (let i = 0; i < opts.warmup; i++) await s.run(t.feeds);
    t.skip = 1 + opts.warmup;   // kernel runs before the timed ones
    return t;
  } catch (e) {
    await close(t);
    throw e;
  }
}

async function close(t) {
  if (t.s.release) await t.s.release();
  fs.rmSync(t.pdir, { recursive: true, force: true });
}

// The median and the least kernel time of t's timed runs, from ONNX
// Runtime's profile, in microseconds.
function kernelTime(t) {
  t.s.endProfiling();
  const files = fs.readdirSync(t.pdir);
  if (files.length !== 1) throw new Error(`the profiler wrote ${files.length} files`);
  const events = JSON.parse(fs.readFileSync(path.join(t.pdir, files[0]), 'utf8'));
  const durs = events.filter(e => e.cat === 'Node' && e.name.endsWith('_kernel_time')).map(e => e.dur);
  const want = t.skip + t.runs * t.passes;
  if (durs.length !== want) throw new Error(`the profiler recorded ${durs.length} kernel runs, not ${want}`);
  const timed = durs.slice(t.skip);
  return { median: median(timed), min: Math.min(...timed) };
}

// Time a group of models: every session open, then opts.passes passes over
// all of them (a burst of load elsewhere on the machine then touches a few
// runs of many ops, not all runs of one).
async function timeGroup(ort, models, opts, dir, report) {
  const open_ = [];
  for (const m of models) {
    try {
      open_.push(await open(ort, m, opts, dir));
    } catch (e) {
      report({ file: m.file, error: String(e.message || e).split('\n')[0] });
    }
  }
  for (let p = 0; p < opts.passes; p++)
    for (const t of open_) {
      t.passes = opts.passes;
      for (let i = 0; i < t.runs; i++) await t.s.run(t.feeds);
    }
  for (const t of open_) {
    try {
      report(Object.assign({ file: t.m.file }, kernelTime(t)));
    } catch (e) {
      report({ file: t.m.file, error: String(e.message || e).split('\n')[0] });
    }
    await close(t);
  }
}

async function main() {
  if (process.argv.length !== 3) throw new Error('usage: ort_calibrate.js SPEC.json');
  const ort = loadOrt();
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  spec.passes = Math.max(1, Math.min(spec.passes || 3, spec.runs));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortcal-'));
  const report = line => process.stdout.write(JSON.stringify(line) + '\n');
  try {
    for (let i = 0; i < spec.models.length; i += GROUP)
      await timeGroup(ort, spec.models.slice(i, i + GROUP), spec, dir, report);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(e => { console.error(`ort_calibrate.js: ${e.message}`); process.exit(1); });
