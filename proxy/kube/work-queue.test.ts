import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await sleep(5);
  }
}

describe('WorkQueue', () => {
  it('never runs one key twice at once, and runs it again when added meanwhile', async () => {
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const queue = new WorkQueue(async (key) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      log.push(`start ${key}`);
      await sleep(30);
      log.push(`end ${key}`);
      running -= 1;
      return undefined;
    });
    queue.add('a');
    await sleep(5);
    queue.add('a');
    queue.add('a');
    await until(() => log.length === 4 && queue.idle);
    expect(log).toEqual(['start a', 'end a', 'start a', 'end a']);
    expect(maxRunning).toBe(1);
    await queue.close();
  });

  it('runs different keys side by side up to its concurrency', async () => {
    let running = 0;
    let maxRunning = 0;
    const queue = new WorkQueue(
      async () => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await sleep(20);
        running -= 1;
        return undefined;
      },
      { concurrency: 2 },
    );
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    await until(() => queue.idle);
    expect(maxRunning).toBe(2);
    await queue.close();
  });

  it('retries a failing key with growing delays and forgets the failures on success', async () => {
    const attempts: number[] = [];
    const errors: number[] = [];
    const queue = new WorkQueue(
      async () => {
        attempts.push(Date.now());
        if (attempts.length < 4) throw new Error('not yet');
        return undefined;
      },
      {
        retryMinMs: 20,
        retryMaxMs: 1000,
        onError: (_key, _error, retryInMs) => errors.push(retryInMs),
      },
    );
    queue.add('a');
    await until(() => attempts.length === 4 && queue.idle);
    expect(errors).toHaveLength(3);
    // Each delay is the doubling ceiling (20, 40, 80) times a random factor in [0.5, 1),
    // rounded to whole ms (backoffDelayMs): so it lies in [ceiling/2, ceiling].
    expect(errors[0]).toBeGreaterThanOrEqual(10);
    expect(errors[0]).toBeLessThanOrEqual(20);
    expect(errors[2]).toBeGreaterThanOrEqual(40);
    expect(errors[2]).toBeLessThanOrEqual(80);
    await queue.close();
  });

  it('runs a key again after the delay its processing asks for, until closed', async () => {
    let runs = 0;
    const queue = new WorkQueue(async () => {
      runs += 1;
      return 20;
    });
    queue.add('a');
    await until(() => runs >= 3);
    await queue.close();
    const afterClose = runs;
    await sleep(60);
    expect(runs).toBe(afterClose);
  });
});
