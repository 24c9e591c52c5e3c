/**
 * atomicWrite replaces a file so that a crash at any point leaves either the old content or the
 * new, never a mix: write a temp file beside it, fsync it, rename over, fsync the directory.
 */
import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

/** atomicWrite writes data to path atomically with the given mode (0600 for anything secret). */
export async function atomicWrite(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await replaceFile(path, data, mode);
  await syncDir(dirname(path));
}

/** FileWrite is one file of atomicWriteMany. */
export interface FileWrite {
  readonly path: string;
  readonly data: string | Uint8Array;
  readonly mode?: number;
}

/** WRITE_CONCURRENCY bounds the files atomicWriteMany has in flight. */
const WRITE_CONCURRENCY = 32;

/**
 * atomicWriteMany is atomicWrite for many files at once, with the same guarantee for each file
 * (old content or new, never a mix; durable when it resolves): the files are written and renamed
 * a few dozen at a time, and each directory is synced once at the end instead of once per file.
 * A failure rejects after the writes in flight have settled; files already renamed stay renamed.
 */
export async function atomicWriteMany(files: readonly FileWrite[]): Promise<void> {
  if (files.length === 1) return atomicWrite(files[0]!.path, files[0]!.data, files[0]!.mode);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < files.length) {
      const f = files[next++]!;
      await replaceFile(f.path, f.data, f.mode ?? 0o644).catch((err: unknown) => {
        failed ??= err;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, files.length) }, worker));
  if (failed !== undefined) throw failed;
  await Promise.all([...new Set(files.map((f) => dirname(f.path)))].map(syncDir));
}

/** replaceFile writes a temp file beside path, syncs it and renames it over path. */
async function replaceFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/** syncDir makes a rename or unlink in dir durable. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
