/**
 * Session ticket keys shared by every proxy process of one `meshgate up`. OpenSSL gives each
 * context random ticket keys, so with --workers a ticket issued by one worker would not resume
 * on another (the kernel hands each new connection to any worker); Envoy's workers are threads
 * of one process and share theirs. So each HTTPS listener runtime derives its keys from a secret
 * of the process group and the runtime's digest (its TLS settings and material): every worker
 * derives the same keys for the same runtime, and the keys change when the runtime does, so a
 * session begun under other settings (another client CA, say) never resumes.
 *
 * The secret is made in the primary, lives in memory only, reaches workers over the IPC pipe
 * (workers.ts) and is never logged or written.
 */
import { hkdfSync, randomBytes } from 'node:crypto';

/** SEED_BYTES is the secret's length; TICKET_KEY_BYTES what Node's ticketKeys option takes. */
const SEED_BYTES = 32;
const TICKET_KEY_BYTES = 48;

let seed: Buffer | undefined;

/** ticketKeySeed is this process group's secret, made on first use in the primary. */
export function ticketKeySeed(): Buffer {
  seed ??= randomBytes(SEED_BYTES);
  return seed;
}

/** setTicketKeySeed installs the primary's secret in a worker, before it builds any TLS context. */
export function setTicketKeySeed(s: Buffer): void {
  if (s.length !== SEED_BYTES) throw new Error(`TLS ticket key seed must be ${SEED_BYTES} bytes, got ${s.length}`);
  seed = Buffer.from(s);
}

/** ticketKeys derives the 48 bytes of ticket keys for one listener runtime, named by its digest. */
export function ticketKeys(runtime: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ticketKeySeed(), Buffer.alloc(0), `meshgate tls session tickets ${runtime}`, TICKET_KEY_BYTES));
}
