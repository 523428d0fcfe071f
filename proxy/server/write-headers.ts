import { IngestError } from './ingest-error.js';

/** The protobuf messages of remote write 1.0 and 2.0, as the `proto` parameter names them. */
const REMOTE_WRITE_V1_PROTO = 'prometheus.WriteRequest';
const REMOTE_WRITE_V2_PROTO = 'io.prometheus.write.v2.Request';

/**
 * Which remote-write version a `Content-Type` names: 2.0 for
 * `proto=io.prometheus.write.v2.Request`, else 1.0. Call after {@link checkWriteHeaders}
 * accepted the headers.
 */
export function remoteWriteVersion(contentType: string): 'rw1' | 'rw2' {
  return protoParameter(contentType) === REMOTE_WRITE_V2_PROTO ? 'rw2' : 'rw1';
}

/**
 * Checks the headers of `POST /api/v1/write` before any of the body is read. Returns the
 * error to answer, or `undefined` when the request may proceed.
 *
 * - `Content-Type` must be `application/x-protobuf`; a `proto` parameter, when present,
 *   must name `prometheus.WriteRequest` (remote write 1.0) or
 *   `io.prometheus.write.v2.Request` (2.0). Every other type gets 415, which the spec makes
 *   the answer for an unsupported message type.
 * - `Content-Encoding` must be `snappy`; anything else gets 415.
 * - A missing header of either kind is taken as the remote-write 1.0 value, as
 *   Prometheus' own receiver does: the 1.0 spec obliges senders to send both headers but
 *   asks nothing of receivers, and the 2.0 spec has receivers assume 1.0 for a bare
 *   `application/x-protobuf`. Rejecting such senders would lose their data for no gain;
 *   a body that is not snappy-compressed protobuf still fails with 400 in the worker.
 */
export function checkWriteHeaders(
  contentType: string,
  contentEncoding: string,
): IngestError | undefined {
  const typeError = checkContentType(contentType);
  if (typeError !== undefined) return typeError;
  const encoding = contentEncoding.trim().toLowerCase();
  if (encoding !== '' && encoding !== 'snappy') {
    return new IngestError(
      'unsupported_encoding',
      `unsupported Content-Encoding ${JSON.stringify(contentEncoding)}: remote write needs snappy`,
    );
  }
  return undefined;
}

function checkContentType(contentType: string): IngestError | undefined {
  if (contentType.trim() === '') return undefined;
  const [mediaType = ''] = contentType.split(';');
  if (mediaType.trim().toLowerCase() !== 'application/x-protobuf') {
    return new IngestError(
      'unsupported_media_type',
      `unsupported Content-Type ${JSON.stringify(contentType)}: expected application/x-protobuf`,
    );
  }
  const proto = protoParameter(contentType);
  if (proto !== undefined && proto !== REMOTE_WRITE_V1_PROTO && proto !== REMOTE_WRITE_V2_PROTO) {
    return new IngestError(
      'unsupported_media_type',
      `unsupported remote-write message ${JSON.stringify(proto)}: this proxy accepts ` +
        `proto=${REMOTE_WRITE_V1_PROTO} (1.0) and proto=${REMOTE_WRITE_V2_PROTO} (2.0)`,
    );
  }
  return undefined;
}

function protoParameter(contentType: string): string | undefined {
  const [, ...parameters] = contentType.split(';');
  for (const parameter of parameters) {
    const separator = parameter.indexOf('=');
    if (separator < 0) continue;
    const name = parameter.slice(0, separator).trim().toLowerCase();
    if (name === 'proto') return unquote(parameter.slice(separator + 1).trim());
  }
  return undefined;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value;
}

/**
 * Parses `Content-Length`: the byte count, or `undefined` when there is none (a chunked
 * body). uWebSockets.js has already refused malformed values; anything else that is not
 * plain decimal is treated as unknown, so the streamed byte count still bounds the body.
 */
export function parseContentLength(header: string): number | undefined {
  const trimmed = header.trim();
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : undefined;
}
