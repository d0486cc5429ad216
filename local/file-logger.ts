/**
 * The local runtime's logger: every line as JSON in a log file (what Powertools would print
 * to CloudWatch), and the notable ones echoed for the person watching `vidflow dev`.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../functions/domain/ports.js';

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export function createFileLogger(path: string, echo?: (line: string) => void): Logger {
  mkdirSync(dirname(path), { recursive: true });
  const write = (level: Level, message: string, extra: Record<string, unknown>[]) => {
    const fields = Object.assign({}, ...extra) as Record<string, unknown>;
    const line = JSON.stringify(
      { timestamp: new Date().toISOString(), level, message, ...fields },
      errorReplacer,
    );
    appendFileSync(path, `${line}\n`);
    if (echo !== undefined && level !== 'DEBUG') {
      const jobId = typeof fields.jobId === 'string' ? `[${fields.jobId}] ` : '';
      const detail = ['model', 'status', 'code', 'key', 'outputKey']
        .filter((name) => fields[name] !== undefined)
        .map((name) => `${name}=${String(fields[name])}`)
        .join(' ');
      echo(`${level.padEnd(5)} ${jobId}${message}${detail ? ` ${detail}` : ''}`);
    }
  };
  return {
    debug: (message, ...extra) => write('DEBUG', message, extra),
    info: (message, ...extra) => write('INFO', message, extra),
    warn: (message, ...extra) => write('WARN', message, extra),
    error: (message, ...extra) => write('ERROR', message, extra),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}
