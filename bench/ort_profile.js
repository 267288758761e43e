#!/usr/bin/env node
// Where a model's time goes in ONNX Runtime (onnxruntime-node): one thread,
// sequential execution, ORT's own profiler over N runs after a warm-up. Prints
// the time per op type (and with --nodes the slowest nodes), as a share of the
// total kernel time.
//
// usage: node bench/ort_profile.js MODEL.onnx [--level disabled|basic|all] [--runs N] [--nodes K]
//                                  [--dims NAME=V,...] [--int-high INPUT=H,...] [--int-value INPUT=V,...]
//                                                                                  (as ort_compare.js)
'use strict';
const path = require('path');
const os = require('os');
const fs = require('fs');

const { loadOrt, feeds, parseAssignments } = require('./ort_common');

function args(argv) {
  const a = { model: null, level: 'disabled', runs: 20, nodes: 0, point: {} };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--level') a.level = argv[++i];
    else if (v === '--runs') a.runs = parseInt(argv[++i], 10);
    else if (v === '--nodes') a.nodes = parseInt(argv[++i], 10);
    else if (v === '--dims') a.point.dims = parseAssignments(argv[++i]);
    else if (v === '--int-high') a.point.high = parseAssignments(argv[++i]);
    else if (v === '--int-value') a.point.values = parseAssignments(argv[++i]);
    else if (!a.model) a.model = v;
    else throw new Error(`unexpected argument '${v}'`);
  }
  if (!a.model || !(a.runs > 0) || !(a.nodes >= 0)) throw new Error('usage: ort_profile.js MODEL.onnx [--level L] [--runs N] [--nodes K]');
  return a;
}

function table(rows, total, label) {
  rows.sort((x, y) => y[1] - x[1]);
  console.log(`${label.padEnd(48)}      us/run   share`);
  for (const [k, us, n] of rows) console.log(`${k.slice(0, 48).padEnd(48)} ${(us).toFixed(0).padStart(11)} ${(100 * us / total).toFixed(1).padStart(6)}%${n > 1 ? `  (${n} nodes)` : ''}`);
}

async function main() {
  const ort = loadOrt();
  const a = args(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortprof-'));
  const s = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: a.level,
    enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
  });
  const f = feeds(ort, s, 1, a.point);
  for (let i = 0; i < 3; i++) await s.run(f);
  for (let i = 0; i < a.runs; i++) await s.run(f);
  s.endProfiling();
  const file = fs.readdirSync(dir).map(x => path.join(dir, x))[0];
  const events = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  const byOp = new Map(), byNode = new Map();
  let total = 0;
  const runs = a.runs + 3;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = (e.args && e.args.op_name) || '?';
    const node = e.name.slice(0, -'_kernel_time'.length);
    total += e.dur;
    const o = byOp.get(op) || [0, new Set()];
    o[0] += e.dur; o[1].add(node); byOp.set(op, o);
    byNode.set(node, [op, (byNode.get(node) || ['', 0])[1] + e.dur]);
  }
  console.log(`${path.basename(a.model)}: level ${a.level}, ${(total / runs / 1000).toFixed(2)} ms of kernel time per run`);
  table([...byOp].map(([k, v]) => [k, v[0] / runs, v[1].size]), total / runs, 'op');
  if (a.nodes) {
    console.log('');
    const rows = [...byNode].map(([k, v]) => [`${v[0]} ${k}`, v[1] / runs, 1]);
    rows.sort((x, y) => y[1] - x[1]);
    table(rows.slice(0, a.nodes), total / runs, 'node');
  }
}

main().catch(e => { console.error(`ort_profile.js: ${e.message}`); process.exit(1); });
