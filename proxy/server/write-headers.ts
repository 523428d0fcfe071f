import { IngestError } from './ingest-error.js';

/** The one protobuf message this proxy accepts for now: remote write 1.0. */
const REMOTE_WRITE_V1_PROTO = 'prometheus.WriteRequest';

/**
 * Checks the headers of `POST /api/v1/write` before any of the body is read. Returns the
 * error to answer, or `undefined` when the request may proceed.
 *
 * - `Content-Type` must be `application/x-protobuf`; a `proto` parameter, when present,
 *   must name `prometheus.WriteRequest` (remote write 1.0). Remote write 2.0
 *   (`io.prometheus.write.v2.Request`) and every other type get 415, which the spec makes
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
  const [mediaType = '', ...parameters] = contentType.split(';');
  if (mediaType.trim().toLowerCase() !== 'application/x-protobuf') {
    return new IngestError(
      'unsupported_media_type',
      `unsupported Content-Type ${JSON.stringify(contentType)}: expected application/x-protobuf`,
    );
  }
  for (const parameter of parameters) {
    const separator = parameter.indexOf('=');
    if (separator < 0) continue;
    const name = parameter.slice(0, separator).trim().toLowerCase();
    if (name !== 'proto') continue;
    const proto = unquote(parameter.slice(separator + 1).trim());
    if (proto !== REMOTE_WRITE_V1_PROTO) {
      return new IngestError(
        'unsupported_media_type',
        `unsupported remote-write message ${JSON.stringify(proto)}: this proxy accepts ` +
          `remote write 1.0 (proto=${REMOTE_WRITE_V1_PROTO}) only`,
      );
    }
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
