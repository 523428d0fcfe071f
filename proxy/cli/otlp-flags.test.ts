import { describe, expect, it } from 'vitest';
import { FlagValueError } from './flag-values.js';
import { parseOtlpGrpcListen } from './otlp-flags.js';

describe('parseOtlpGrpcListen', () => {
  it('defaults to the OTLP port on loopback, which may be taken', () => {
    expect(parseOtlpGrpcListen(undefined)).toEqual({
      host: '127.0.0.1',
      port: 4317,
      optional: true,
    });
  });
  it('binds an explicit address or fails', () => {
    expect(parseOtlpGrpcListen('0.0.0.0:14317')).toEqual({
      host: '0.0.0.0',
      port: 14317,
      optional: false,
    });
  });
  it('turns off', () => {
    expect(parseOtlpGrpcListen('off')).toBeUndefined();
  });
  it('names the flag in its error', () => {
    expect(() => parseOtlpGrpcListen('4317')).toThrow(FlagValueError);
    expect(() => parseOtlpGrpcListen('4317')).toThrow(/--otlp-grpc-listen "4317" is not HOST:PORT/);
  });
});
