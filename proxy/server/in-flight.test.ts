import { describe, expect, it } from 'vitest';
import { InFlightRequests } from './in-flight.js';

describe('InFlightRequests', () => {
  it('is drained at once when nothing is in flight', async () => {
    expect(await new InFlightRequests().drained(0)).toBe(true);
  });

  it('resolves when the last request ends', async () => {
    const inFlight = new InFlightRequests();
    inFlight.begin();
    inFlight.begin();
    const drained = inFlight.drained(5000);
    inFlight.end();
    expect(inFlight.count).toBe(1);
    setTimeout(() => inFlight.end(), 20);
    expect(await drained).toBe(true);
    expect(inFlight.count).toBe(0);
  });

  it('gives up after the timeout', async () => {
    const inFlight = new InFlightRequests();
    inFlight.begin();
    expect(await inFlight.drained(30)).toBe(false);
    expect(inFlight.count).toBe(1);
  });
});
