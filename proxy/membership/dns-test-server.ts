/**
 * A small authoritative DNS server on the loopback for tests: answers A and SRV questions
 * from records the test sets and changes, over UDP, the way a cluster DNS serves a
 * headless Service. Anything else is NXDOMAIN.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

const TYPE_A = 1;
const TYPE_SRV = 33;

export interface SrvRecord {
  readonly target: string;
  readonly port: number;
}

export interface TestDnsServer {
  /** `127.0.0.1:port`, for `Resolver.setServers`. */
  readonly address: string;
  setA(name: string, addresses: readonly string[]): void;
  setSrv(name: string, records: readonly SrvRecord[]): void;
  /** Questions answered so far. */
  queries(): number;
  close(): Promise<void>;
}

export async function startTestDnsServer(): Promise<TestDnsServer> {
  const a = new Map<string, readonly string[]>();
  const srv = new Map<string, readonly SrvRecord[]>();
  let queries = 0;
  const socket: Socket = createSocket('udp4');
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    const answer = answerQuery(message, a, srv);
    if (answer === undefined) return;
    queries++;
    socket.send(answer, remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    address: `127.0.0.1:${socket.address().port}`,
    setA: (name, addresses) => a.set(name.toLowerCase(), [...addresses]),
    setSrv: (name, records) => srv.set(name.toLowerCase(), [...records]),
    queries: () => queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answerQuery(
  message: Buffer,
  a: ReadonlyMap<string, readonly string[]>,
  srv: ReadonlyMap<string, readonly SrvRecord[]>,
): Buffer | undefined {
  if (message.length < 12 || message.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  while (offset < message.length && message[offset] !== 0) {
    const length = message[offset]!;
    labels.push(message.toString('latin1', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  offset += 1;
  if (offset + 4 > message.length) return undefined;
  const type = message.readUInt16BE(offset);
  const question = message.subarray(12, offset + 4);
  const name = labels.join('.').toLowerCase();
  const answers: Buffer[] = [];
  if (type === TYPE_A) {
    for (const address of a.get(name) ?? []) {
      answers.push(resourceRecord(TYPE_A, Buffer.from(address.split('.').map(Number))));
    }
  } else if (type === TYPE_SRV) {
    for (const record of srv.get(name) ?? []) {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(0, 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt16BE(record.port, 4);
      answers.push(resourceRecord(TYPE_SRV, Buffer.concat([fixed, encodeName(record.target)])));
    }
  }
  const known = a.has(name) || srv.has(name);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(message.readUInt16BE(0), 0);
  // Response, authoritative, recursion desired and available; NXDOMAIN for unknown names.
  header.writeUInt16BE(0x8580 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

/** An answer for the question's name (a pointer to offset 12), TTL 0. */
function resourceRecord(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(0, 6);
  head.writeUInt16BE(data.length, 10);
  return Buffer.concat([head, data]);
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((part) => part !== '');
  return Buffer.concat([
    ...parts.map((part) =>
      Buffer.concat([Buffer.from([part.length]), Buffer.from(part, 'latin1')]),
    ),
    Buffer.from([0]),
  ]);
}
