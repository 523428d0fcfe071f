/**
 * What the ingest server answers, per wire format: remote write 1.0 gets a bare 204,
 * remote write 2.0 adds the `X-Prometheus-Remote-Write-*-Written` headers its spec asks
 * for, and OTLP/HTTP gets an `ExportMetricsServiceResponse` (with `partial_success` when
 * points were refused) and, for errors, a `google.rpc.Status` body, in the encoding of the
 * request. These are small and built by hand, so the ingest thread parses nothing.
 */

import type { ConversionOutcome, IngestFormat } from './ingest-format.js';
import { ProtoWriter } from './proto-writer.js';

/** A complete answer: status, extra headers and body (none for a 204). */
export interface WireAnswer {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array | string | undefined;
}

/** Response headers of remote write 2.0 (spec: what the receiver wrote). */
export const RW2_SAMPLES_WRITTEN = 'x-prometheus-remote-write-samples-written';
export const RW2_HISTOGRAMS_WRITTEN = 'x-prometheus-remote-write-histograms-written';
export const RW2_EXEMPLARS_WRITTEN = 'x-prometheus-remote-write-exemplars-written';

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

// ExportMetricsServiceResponse.partial_success = 1 → ExportMetricsPartialSuccess
// { rejected_data_points = 1; error_message = 2 }; google.rpc.Status { code = 1; message = 2 }
const RESPONSE_PARTIAL_SUCCESS = 1;
const PARTIAL_REJECTED = 1;
const PARTIAL_MESSAGE = 2;
const STATUS_CODE = 1;
const STATUS_MESSAGE = 2;

/** gRPC status codes used in `google.rpc.Status` bodies. */
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_INTERNAL = 13;
const GRPC_UNAVAILABLE = 14;

/**
 * The success answer for `format`. Deliberate drops by pipeline rules count as written:
 * the sender's data was accepted, and a lower count would read as a partial failure.
 */
export function successAnswer(
  format: IngestFormat,
  conversion: ConversionOutcome | undefined,
): WireAnswer {
  switch (format) {
    case 'rw1':
      return { status: 204, headers: [], body: undefined };
    case 'rw2':
      return {
        status: 204,
        headers: [
          [RW2_SAMPLES_WRITTEN, String(conversion?.samples ?? 0)],
          [RW2_HISTOGRAMS_WRITTEN, String(conversion?.histograms ?? 0)],
          [RW2_EXEMPLARS_WRITTEN, String(conversion?.exemplars ?? 0)],
        ],
        body: undefined,
      };
    case 'otlp-proto':
      return {
        status: 200,
        headers: [['content-type', PROTOBUF]],
        body: exportResponseProto(conversion),
      };
    case 'otlp-json':
      return {
        status: 200,
        headers: [['content-type', JSON_TYPE]],
        body: exportResponseJson(conversion),
      };
  }
}

/**
 * The body of an error answer in the format's own terms, or `undefined` for the plain
 * text the remote-write formats use.
 */
export function errorAnswerBody(
  format: IngestFormat,
  status: number,
  message: string,
): { contentType: string; body: Uint8Array | string } | undefined {
  if (format === 'rw1' || format === 'rw2') return undefined;
  const code = grpcCodeFor(status);
  if (format === 'otlp-json') {
    return { contentType: JSON_TYPE, body: JSON.stringify({ code, message }) };
  }
  const writer = new ProtoWriter();
  writer.varintField(STATUS_CODE, code);
  writer.stringField(STATUS_MESSAGE, message);
  return { contentType: PROTOBUF, body: writer.copy() };
}

/** The encoded `ExportMetricsServiceResponse` (also the OTLP/gRPC answer). */
export function exportResponseProto(conversion: ConversionOutcome | undefined): Uint8Array {
  const writer = new ProtoWriter();
  if (conversion !== undefined && (conversion.rejectedPoints > 0 || conversion.message !== '')) {
    const mark = writer.beginMessage(RESPONSE_PARTIAL_SUCCESS);
    writer.varintField(PARTIAL_REJECTED, conversion.rejectedPoints);
    if (conversion.message !== '') writer.stringField(PARTIAL_MESSAGE, conversion.message);
    writer.endMessage(mark);
  }
  return writer.copy();
}

function exportResponseJson(conversion: ConversionOutcome | undefined): string {
  if (conversion === undefined || (conversion.rejectedPoints === 0 && conversion.message === '')) {
    return '{}';
  }
  // int64 is a string in the protobuf JSON mapping.
  return JSON.stringify({
    partialSuccess: {
      rejectedDataPoints: String(conversion.rejectedPoints),
      errorMessage: conversion.message,
    },
  });
}

function grpcCodeFor(status: number): number {
  if (status === 429) return GRPC_RESOURCE_EXHAUSTED;
  if (status === 502 || status === 503) return GRPC_UNAVAILABLE;
  if (status >= 500) return GRPC_INTERNAL;
  return GRPC_INVALID_ARGUMENT;
}
