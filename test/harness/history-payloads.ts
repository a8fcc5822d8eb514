/**
 * Decodes every payload of a raw history in place: the payload codec's decode over each Payload wherever it sits
 * (inputs, results, update arguments, markers, memo, headers, failures' encoded attributes). The SDK decodes
 * payloads per use; a history read from the server as a whole has none of that, so this walks it.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

/** A Payload message: `metadata` maps names to bytes and `data` is bytes (Payloads, maps of them, are walked). */
function isPayload(value: object): value is Payload {
  const { metadata, data } = value as { metadata?: unknown; data?: unknown };
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    isBytes((metadata as Record<string, unknown>).encoding) &&
    (data === undefined || data === null || isBytes(data))
  );
}

export async function decodeHistoryPayloads<T extends object>(history: T, codec: PayloadCodec): Promise<T> {
  const visit = async (node: unknown): Promise<unknown> => {
    if (typeof node !== 'object' || node === null || isBytes(node)) return node;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) node[i] = await visit(node[i]);
      return node;
    }
    if (isPayload(node)) return (await codec.decode([node]))[0];
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = await visit(record[key]);
    return node;
  };
  return (await visit(history)) as T;
}
