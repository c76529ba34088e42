// bullmq_probe: what make bench measures on BullMQ beyond the anchor's throughput (which
// ../shared/anchors/bullmq/bench.js measures). It uses the anchor's installed node_modules
// (NODE_PATH) and prints JSON lines, like spec/bench/latency.c and the Redis counts for ZeroG.
//   REDIS_URL=unix:///... SAMPLES=200 DELAY_MS=0 WARMUP=10 node bullmq_probe.js latency
//     An idle worker in a child process (concurrency 1); jobs added one at a time. Latency = the
//     worker's time at the start of the processor - the time just before queue.add() - DELAY_MS,
//     both process.hrtime (CLOCK_MONOTONIC, one clock for both processes), in microseconds. After
//     each start it waits for the completion and 1-25 ms more (at random): the worker is idle again,
//     in any phase of its wait.
//   REDIS_URL=... N=2000 C=16 node bullmq_probe.js count
//     The anchor's workload in two phases, submit (addBulk in batches of 1000) and run (a worker at
//     concurrency C until N completed), each between ECHO markers "zb:<phase>:begin/end" (for a
//     MONITOR capture) and with CONFIG RESETSTAT before and INFO commandstats after; prints one
//     line per phase with the raw commandstats for spec/bench/redis_counts.lua.
const { fork } = require('child_process');
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

function connect() {
  const opts = { maxRetriesPerRequest: null };
  if (url.startsWith('unix://')) return new IORedis({ path: url.slice(7), ...opts });
  return new IORedis(url, opts);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The latency probe's worker (a child process): reports each start and each completion.
async function latencyWorker() {
  const worker = new Worker('bench-probe', async (job) => {
    const t = process.hrtime.bigint();
    process.send({ start: job.data.i, t: t.toString() });
    return 200;
  }, { connection: connect(), concurrency: 1 });
  worker.on('completed', (job) => process.send({ done: job.data.i }));
  await worker.waitUntilReady();
  process.send({ ready: true });
  process.on('message', async (m) => {
    if (m.stop) {
      await worker.close();
      process.exit(0);
    }
  });
}

async function latency() {
  const samples = +(process.env.SAMPLES || 200);
  const warmup = +(process.env.WARMUP || 10);
  const delayMs = +(process.env.DELAY_MS || 0);
  const connection = connect();
  const q = new Queue('bench-probe', { connection });
  await q.obliterate({ force: true });
  const child = fork(__filename, ['latency-worker']);
  const waiting = new Map(); // "start:i" / "done:i" / "ready" -> resolve
  const arrived = new Map();
  child.on('message', (m) => {
    const key = m.ready ? 'ready' : m.start !== undefined ? `start:${m.start}` : `done:${m.done}`;
    const value = m.t !== undefined ? BigInt(m.t) : true;
    if (waiting.has(key)) { waiting.get(key)(value); waiting.delete(key); } else arrived.set(key, value);
  });
  child.on('exit', (code) => { if (code) { console.error(`bullmq_probe: worker exited ${code}`); process.exit(1); } });
  const expect = (key) => {
    if (arrived.has(key)) { const v = arrived.get(key); arrived.delete(key); return Promise.resolve(v); }
    return Promise.race([
      new Promise((resolve) => waiting.set(key, resolve)),
      sleep(delayMs + 10000).then(() => { throw new Error(`${key}: nothing within 10 s`); }),
    ]);
  };
  await expect('ready');
  const lat = [];
  for (let i = 1; i <= warmup + samples; i++) {
    const t0 = process.hrtime.bigint();
    await q.add('probe', { i }, delayMs > 0 ? { delay: delayMs } : {});
    const started = await expect(`start:${i}`);
    if (i > warmup) lat.push(Number(started - t0) / 1e3 - delayMs * 1000);
    await expect(`done:${i}`);
    await sleep(1 + Math.random() * 24); // idle for 1-25 ms: any phase of its wait
  }
  child.send({ stop: true });
  await new Promise((resolve) => child.on('exit', resolve));
  await q.obliterate({ force: true });
  await q.close();
  await connection.quit();
  console.log(JSON.stringify({ kind: 'latency', system: 'bullmq', delay_ms: delayMs,
    samples_us: lat.map((x) => Math.round(x * 10) / 10) }));
}

async function count() {
  const N = +(process.env.N || 2000);
  const C = +(process.env.C || 16);
  const connection = connect();
  const q = new Queue('bench-count', { connection });
  await q.obliterate({ force: true });
  const phase = async (name, work) => {
    await connection.echo(`zb:${name}:begin`);
    await connection.config('RESETSTAT');
    await work();
    const stats = await connection.info('commandstats');
    await connection.echo(`zb:${name}:end`);
    console.log(JSON.stringify({ kind: 'commandstats', system: 'bullmq', phase: name, N, C, text: stats }));
  };
  await phase('submit', async () => {
    for (let i = 0; i < N; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + 1000); j++) batch.push({ name: 'job', data: { i: j } });
      await q.addBulk(batch);
    }
  });
  let worker;
  await phase('run', async () => {
    let done = 0;
    worker = new Worker('bench-count', async (job) => {
      await job.updateProgress(50);
      await job.log('event');
      return { ok: 1 };
    }, { connection: connect(), concurrency: C });
    await new Promise((resolve) => worker.on('completed', () => { if (++done === N) resolve(); }));
  });
  await worker.close();
  await q.obliterate({ force: true });
  await q.close();
  await connection.quit();
}

const mode = process.argv[2];
const main = { latency, 'latency-worker': latencyWorker, count }[mode];
if (!main) {
  console.error('usage: node bullmq_probe.js latency|count');
  process.exit(2);
}
main().then(() => { if (mode !== 'latency-worker') process.exit(0); })
  .catch((e) => { console.error(e); process.exit(1); });
