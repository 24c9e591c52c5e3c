/**
 * The one logger. Components take `log.child({ component })`. Key material is never logged:
 * fields named like secrets are redacted as a second line of defence.
 */
import { pino, type Logger } from 'pino';

/** createLogger makes the process logger; MESHGATE_LOG_LEVEL sets the level (default info). */
export function createLogger(opts: { level?: string; destination?: number } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.MESHGATE_LOG_LEVEL ?? 'info',
      base: undefined,
      redact: { paths: ['*.key', '*.privateKey', '*.tlsKey', 'key', 'privateKey', 'token', '*.token'], censor: '[redacted]' },
    },
    pino.destination({ dest: opts.destination ?? 2, sync: false }),
  );
}

/** silentLogger is for tests and offline commands. */
export const silentLogger: Logger = pino({ level: 'silent' });

export type { Logger };
