import { describe, expect, it } from 'vitest';
import { parseByteSize, parseCount, parseDuration, parseListenAddress } from './flag-values.js';

describe('flag values', () => {
  it.each([
    ['30s', 30_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
  ])('duration %s = %i ms', (text, ms) => {
    expect(parseDuration('--upstream-timeout', text)).toBe(ms);
  });

  it.each(['', '30', 's', '1x', '30s ', '-1s'])('duration %j is refused', (text) => {
    expect(() => parseDuration('--upstream-timeout', text)).toThrow(
      `--upstream-timeout ${JSON.stringify(text)} is not a duration`,
    );
  });

  it.each([
    ['33554432', 33554432],
    ['32MiB', 32 * 1024 * 1024],
    ['512KiB', 512 * 1024],
    ['1GiB', 1024 ** 3],
  ])('size %s = %i', (text, bytes) => {
    expect(parseByteSize('--max-request-bytes', text)).toBe(bytes);
  });

  it.each(['32MB', 'lots', '-1', ''])('size %j is refused', (text) => {
    expect(() => parseByteSize('--max-request-bytes', text)).toThrow('is not a size');
  });

  it.each([
    ['127.0.0.1:9091', { host: '127.0.0.1', port: 9091 }],
    ['[::1]:80', { host: '::1', port: 80 }],
    [':9091', { host: '0.0.0.0', port: 9091 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
  ])('listen %s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(['9091', 'host', 'host:port', ''])('listen %j is refused', (text) => {
    expect(() => parseListenAddress(text)).toThrow('is not HOST:PORT');
  });

  it('counts are whole numbers', () => {
    expect(parseCount('--workers', '4')).toBe(4);
    expect(() => parseCount('--workers', 'four')).toThrow('--workers "four" is not a whole number');
  });
});
