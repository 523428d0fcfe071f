/**
 * Runs the micro benchmarks of `cases.ts` with tinybench and prints ns per call, ns per
 * sample and calls per second. `node dist/bench/micro.js [filter]` runs the cases whose
 * name contains the filter; `--json` prints the rows as JSON; `--time MS` sets how long
 * each case runs (default 1000).
 */

import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { loadCases } from './cases.js';

/** One measured case. */
export interface MicroResult {
  readonly name: string;
  readonly nsPerOp: number;
  readonly nsPerSample: number;
  readonly opsPerSecond: number;
  /** Relative margin of error of the mean, %. */
  readonly marginPercent: number;
  readonly samples: number;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      time: { type: 'string', default: '1000' },
    },
    allowPositionals: true,
  });
  const filter = positionals[0] ?? '';
  const cases = await loadCases();
  const bench = new Bench({ time: Number(values.time), warmupTime: 200 });
  for (const [name, benchCase] of cases) {
    if (name.includes(filter)) bench.add(name, benchCase.run);
  }
  if (bench.tasks.length === 0) {
    process.stderr.write(
      `no case matches ${JSON.stringify(filter)}; cases: ${[...cases.keys()].join(', ')}\n`,
    );
    process.exitCode = 2;
    return;
  }
  await bench.run();
  const results: MicroResult[] = bench.tasks.map((task) => {
    const result = task.result;
    if (!('latency' in result)) throw new Error(`${task.name}: ${result.state}`);
    const ops = cases.get(task.name)!.ops;
    const nsPerOp = result.latency.mean * 1e6;
    return {
      name: task.name,
      nsPerOp,
      nsPerSample: nsPerOp / ops,
      opsPerSecond: 1e9 / nsPerOp,
      marginPercent: result.latency.rme,
      samples: ops,
    };
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const width = Math.max(...results.map((row) => row.name.length), 4);
  process.stdout.write(
    `${'case'.padEnd(width)}  ${'ns/op'.padStart(12)}  ${'ns/sample'.padStart(9)}  ${'ops/s'.padStart(9)}  ${'±%'.padStart(5)}\n`,
  );
  for (const row of results) {
    process.stdout.write(
      `${row.name.padEnd(width)}  ${Math.round(row.nsPerOp).toLocaleString('en-US').padStart(12)}  ` +
        `${row.nsPerSample.toFixed(1).padStart(9)}  ${row.opsPerSecond.toFixed(0).padStart(9)}  ` +
        `${row.marginPercent.toFixed(1).padStart(5)}\n`,
    );
  }
}

await main();
