/**
 * Kafka's flexible-version (KIP-482) wire format, for the requests kafkajs 2.2 does not have
 * (ListGroups v5, ConsumerGroupDescribe, batched FindCoordinator and OffsetFetch), sent through
 * kafkajs' own broker connections.
 */

/**
 * Reads the compact (KIP-482) encoding: unsigned varints, compact strings and arrays, tagged
 * fields; and the older fixed-width forms (int16-length strings, int32-length arrays).
 */
export class WireReader {
  private o = 0;
  constructor(private readonly buf: Buffer) {}

  int8(): number {
    return this.buf.readInt8((this.o += 1) - 1);
  }
  int16(): number {
    return this.buf.readInt16BE((this.o += 2) - 2);
  }
  int32(): number {
    return this.buf.readInt32BE((this.o += 4) - 4);
  }
  /** An int64 as a number (offsets stay far below 2^53), from its halves: no BigInt per value. */
  int64(): number {
    const high = this.buf.readInt32BE(this.o);
    const low = this.buf.readUInt32BE(this.o + 4);
    this.o += 8;
    return high * 2 ** 32 + low;
  }
  uvarint(): number {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.buf[this.o++];
      if (b === undefined) throw new Error('truncated Kafka response');
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  }
  nullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    this.o += n - 1;
    return this.buf.toString('utf8', this.o - (n - 1), this.o);
  }
  string(): string {
    return this.nullableString() ?? '';
  }
  array<T>(item: () => T): T[] {
    const n = this.uvarint();
    return Array.from({ length: Math.max(0, n - 1) }, item);
  }
  /** A string of the non-flexible versions: int16 length, -1 for null. */
  int16String(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    this.o += n;
    return this.buf.toString('utf8', this.o - n, this.o);
  }
  /** An array's length in the non-flexible versions: int32, -1 (null) read as none. */
  int32Count(): number {
    return Math.max(0, this.int32());
  }
  skip(bytes: number): void {
    this.o += bytes;
  }
  /** A tagged-field section: none of its fields are needed here. */
  tags(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}

export function uvarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** A compact array: its length + 1 as an unsigned varint, then the items. */
export function compactArray<T>(items: T[], item: (t: T) => Buffer): Buffer {
  return Buffer.concat([Buffer.from(uvarint(items.length + 1)), ...items.map(item)]);
}

export function compactString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from(uvarint(b.length + 1)), b]);
}

/**
 * A request whose body is `payload` as is, for kafkajs' connection to frame (header, size) and
 * send: kafkajs frames whatever its Encoder would hold, an object with these three members.
 */
export function bytesRequest(apiKey: number, apiVersion: number, apiName: string, payload: Buffer) {
  return {
    apiKey,
    apiVersion,
    apiName,
    expectResponse: () => true,
    encode: async () => ({ buf: payload, buffer: payload, size: () => payload.length }),
  };
}

/**
 * A flexible-version request for kafkajs' connection, which writes request header v1 (api key,
 * version, correlation id, client id) and then this payload: the payload starts with the empty
 * tagged fields that make it header v2. The response header v1 has tagged fields after the
 * correlation id, which kafkajs hands to `decode` with the body: `read` starts there.
 */
export function flexibleRequest<T>(
  apiKey: number,
  apiVersion: number,
  apiName: string,
  body: Buffer,
  read: (r: WireReader) => T,
) {
  return {
    request: bytesRequest(apiKey, apiVersion, apiName, Buffer.concat([Buffer.from([0]), body])),
    response: {
      decode: async (raw: Buffer) => {
        const r = new WireReader(raw);
        r.tags();
        return { value: read(r) };
      },
      parse: async (data: { value: T }) => data.value,
    },
  };
}
