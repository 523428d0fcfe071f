/** Flags of `phoenix proxy` for OTLP ingest. */

import type { OtlpGrpcListen } from '../otlp/otlp-grpc-server.js';
import { FlagValueError, parseListenAddress } from './flag-values.js';

/** The OTLP/gRPC port every OpenTelemetry SDK and Collector sends to by default. */
export const DEFAULT_OTLP_GRPC_LISTEN = '127.0.0.1:4317';

/**
 * `--otlp-grpc-listen HOST:PORT|off`. Without the flag the default address is used, and
 * a proxy that finds it taken starts without OTLP/gRPC (with a warning) rather than not
 * at all; an address given explicitly must be bound.
 */
export function parseOtlpGrpcListen(value: string | undefined): OtlpGrpcListen | undefined {
  if (value === 'off') return undefined;
  const text = value ?? DEFAULT_OTLP_GRPC_LISTEN;
  let address: { host: string; port: number };
  try {
    address = parseListenAddress(text);
  } catch {
    throw new FlagValueError(
      `--otlp-grpc-listen ${JSON.stringify(text)} is not HOST:PORT (like 127.0.0.1:4317) or off`,
    );
  }
  return { ...address, optional: value === undefined };
}
