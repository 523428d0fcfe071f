import { describe, expect, it } from 'vitest';
import { checkWriteHeaders, parseContentLength, remoteWriteVersion } from './write-headers.js';

describe('checkWriteHeaders', () => {
  const cases: Array<[string, string, string, string | undefined]> = [
    ['remote write 1.0 as Prometheus sends it', 'application/x-protobuf', 'snappy', undefined],
    [
      'explicit 1.0 proto',
      'application/x-protobuf;proto=prometheus.WriteRequest',
      'snappy',
      undefined,
    ],
    [
      'quoted proto, spaces, case',
      'Application/X-Protobuf; proto="prometheus.WriteRequest"',
      'Snappy',
      undefined,
    ],
    ['no headers (taken as 1.0, like Prometheus)', '', '', undefined],
    [
      'remote write 2.0',
      'application/x-protobuf;proto=io.prometheus.write.v2.Request',
      'snappy',
      undefined,
    ],
    [
      'an unknown message type',
      'application/x-protobuf;proto=io.prometheus.write.v3.Request',
      'snappy',
      'unsupported_media_type',
    ],
    ['json', 'application/json', 'snappy', 'unsupported_media_type'],
    ['text', 'text/plain', 'snappy', 'unsupported_media_type'],
    ['gzip', 'application/x-protobuf', 'gzip', 'unsupported_encoding'],
    ['identity', 'application/x-protobuf', 'identity', 'unsupported_encoding'],
  ];
  for (const [name, contentType, contentEncoding, reason] of cases) {
    it(name, () => {
      const error = checkWriteHeaders(contentType, contentEncoding);
      expect(error?.reason).toBe(reason);
      if (error !== undefined) expect(error.status).toBe(415);
    });
  }
});

describe('remoteWriteVersion', () => {
  it.each([
    ['', 'rw1'],
    ['application/x-protobuf', 'rw1'],
    ['application/x-protobuf;proto=prometheus.WriteRequest', 'rw1'],
    ['application/x-protobuf; proto="io.prometheus.write.v2.Request"', 'rw2'],
  ])('%j → %s', (contentType, version) => {
    expect(remoteWriteVersion(contentType)).toBe(version);
  });
});

describe('parseContentLength', () => {
  it.each([
    ['', undefined],
    ['0', 0],
    ['33554432', 33554432],
    [' 12 ', 12],
    ['-1', undefined],
    ['1e3', undefined],
  ])('%j → %j', (header, expected) => {
    expect(parseContentLength(header)).toBe(expected);
  });
});
