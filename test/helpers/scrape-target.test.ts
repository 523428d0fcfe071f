import { describe, expect, it } from 'vitest';
import { renderExposition, startScrapeTarget } from './scrape-target.js';

describe('renderExposition', () => {
  it.each([
    { value: 'plain', line: 'm{l="plain"} 1' },
    { value: 'say "hi"', line: 'm{l="say \\"hi\\""} 1' },
    { value: 'C:\\dir', line: 'm{l="C:\\\\dir"} 1' },
    { value: 'two\nlines', line: 'm{l="two\\nlines"} 1' },
  ])('escapes $value', ({ value, line }) => {
    expect(renderExposition([{ name: 'm', labels: { l: value }, value: 1 }])).toBe(`${line}\n`);
  });

  it('groups samples by metric name and prints special values', () => {
    const text = renderExposition([
      { name: 'b', labels: {}, value: Number.NaN },
      { name: 'a', labels: { x: '1' }, value: Number.POSITIVE_INFINITY },
      { name: 'b', labels: { y: '2' }, value: -0.5 },
    ]);
    expect(text).toBe('a{x="1"} +Inf\nb NaN\nb{y="2"} -0.5\n');
  });
});

describe('startScrapeTarget', () => {
  it('serves the body for known paths, 404 otherwise, and counts scrapes', async () => {
    const target = await startScrapeTarget((path) => (path === '/metrics' ? 'm 1\n' : undefined));
    try {
      const served = await fetch(`http://${target.address}/metrics`);
      expect(served.status).toBe(200);
      expect(await served.text()).toBe('m 1\n');
      const missing = await fetch(`http://${target.address}/other`);
      expect(missing.status).toBe(404);
      expect(target.scrapeCount('/metrics')).toBe(1);
    } finally {
      await target.close();
    }
  });
});
