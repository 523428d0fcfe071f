// Extracts named entries of a zip archive with Node alone, so fetching the deploy tools
// needs no `unzip` on the machine.
//
//   node scripts/extract-zip-entries.mjs ARCHIVE.zip OUT_DIR ENTRY [ENTRY...]
//
// Each ENTRY (a path inside the archive) is written to OUT_DIR/<basename>, mode 0755.
// Only stored (0) and deflated (8) entries are supported, and no zip64: enough for the
// archives this project reads, and anything else fails loudly instead of writing garbage.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

const [archivePath, outDir, ...wanted] = process.argv.slice(2);
if (archivePath === undefined || outDir === undefined || wanted.length === 0) {
  console.error('usage: extract-zip-entries.mjs ARCHIVE.zip OUT_DIR ENTRY [ENTRY...]');
  process.exit(2);
}

const archive = readFileSync(archivePath);
const entries = readCentralDirectory(archive);
for (const name of wanted) {
  const entry = entries.get(name);
  if (entry === undefined) {
    console.error(`${archivePath}: no entry ${name} (has: ${[...entries.keys()].join(', ')})`);
    process.exit(1);
  }
  const data = readEntry(archive, entry);
  writeFileSync(join(outDir, basename(name)), data, { mode: 0o755 });
}

function readCentralDirectory(buffer) {
  // The end record sits in the last 22 bytes plus a comment of at most 65535 bytes.
  let end = -1;
  for (let at = buffer.length - 22; at >= Math.max(0, buffer.length - 22 - 65_535); at--) {
    if (buffer.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new Error(`${archivePath}: not a zip archive (no end record)`);
  const count = buffer.readUInt16LE(end + 10);
  let at = buffer.readUInt32LE(end + 16);
  const result = new Map();
  for (let index = 0; index < count; index++) {
    if (buffer.readUInt32LE(at) !== CENTRAL_DIRECTORY_ENTRY) {
      throw new Error(`${archivePath}: bad central directory entry at ${at}`);
    }
    const method = buffer.readUInt16LE(at + 10);
    const crc = buffer.readUInt32LE(at + 16);
    const compressedSize = buffer.readUInt32LE(at + 20);
    const size = buffer.readUInt32LE(at + 24);
    const nameLength = buffer.readUInt16LE(at + 28);
    const extraLength = buffer.readUInt16LE(at + 30);
    const commentLength = buffer.readUInt16LE(at + 32);
    const localHeaderOffset = buffer.readUInt32LE(at + 42);
    const name = buffer.toString('utf8', at + 46, at + 46 + nameLength);
    if (compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
      throw new Error(`${archivePath}: ${name} is a zip64 entry, which is not supported`);
    }
    result.set(name, { name, method, crc, compressedSize, size, localHeaderOffset });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return result;
}

function readEntry(buffer, entry) {
  const at = entry.localHeaderOffset;
  if (buffer.readUInt32LE(at) !== LOCAL_FILE_HEADER) {
    throw new Error(`${archivePath}: bad local header of ${entry.name}`);
  }
  const dataStart = at + 30 + buffer.readUInt16LE(at + 26) + buffer.readUInt16LE(at + 28);
  const raw = buffer.subarray(dataStart, dataStart + entry.compressedSize);
  let data;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) data = inflateRawSync(raw);
  else throw new Error(`${archivePath}: ${entry.name} uses compression method ${entry.method}`);
  if (data.length !== entry.size || crc32(data) !== entry.crc) {
    throw new Error(`${archivePath}: ${entry.name} fails its size or CRC-32 check`);
  }
  return data;
}
