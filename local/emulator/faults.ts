/**
 * Fault injection for the provider emulator, configured by a string such as
 * `post:500@0.2,get:429@0.1:retry-after=2,output:expired:count=1`. The syntax is documented in
 * `local/emulator/README.md`.
 */
import type { Random } from './random.js';

/** Where a fault applies: the create call, the status call, the output download, or the generation's result. */
export type FaultScope = 'post' | 'get' | 'output' | 'result';

/** A configured fault that can be injected. */
export interface FaultRule {
  readonly scope: FaultScope;
  /**
   * e.g. `500`, `429`, `timeout`, `reset`, `malformed`, `expired`, `stall`, `truncate`, `error`,
   * `stuck`, `url`, `redirect`, `not-video`, `oversize`.
   */
  readonly kind: string;
  /** The kind's argument, percent-decoded: the URL of `url=`/`redirect=`, the bytes of `oversize=`. */
  readonly value?: string;
  /** `result` only: the rule sees only generations whose prompt contains this text. */
  readonly prompt?: string;
  /** HTTP status to answer with, for numeric kinds (`500`, `500-after-create`). */
  readonly status?: number;
  /** POST only: create the generation first, then misbehave. */
  readonly afterCreate: boolean;
  /** Chance that a matching request is faulted, 0..1; default 1. */
  readonly probability: number;
  /** Fault at most this many requests; default unlimited. */
  readonly count: number;
  /** Let this many matching requests through before the rule starts; default 0. */
  readonly after: number;
  /** Seconds for the `Retry-After` header; `undefined` sends none. Default 1 for 429, else none. */
  readonly retryAfterSeconds?: number;
  /** The rule as written, without options: `get:429`. Logged with the faulted request. */
  readonly label: string;
}

/** The fault specification string is invalid; raised at start-up. */
export class FaultSyntaxError extends Error {
  override readonly name = 'FaultSyntaxError';
}

const SCOPES: readonly FaultScope[] = ['post', 'get', 'output', 'result'];

const KINDS: Readonly<Record<FaultScope, readonly string[]>> = {
  post: ['timeout', 'reset', 'malformed'],
  get: ['timeout', 'reset', 'malformed'],
  output: ['timeout', 'reset', 'expired', 'stall', 'truncate'],
  result: ['error', 'stuck', 'url', 'redirect', 'not-video', 'oversize'],
};

/** `result` kinds written `<kind>=<value>`, and what the value must be. */
const VALUED_KINDS: Readonly<Record<string, 'url' | 'bytes'>> = {
  url: 'url',
  redirect: 'url',
  oversize: 'bytes',
};

/** Option values and kind arguments are percent-decoded, so they may hold `:`, `,` and `@`. */
function decodeValue(value: string, rule: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new FaultSyntaxError(`fault "${rule}": "${value}" has broken percent-encoding`);
  }
}

const AFTER_CREATE = '-after-create';

function parseKind(
  scope: FaultScope,
  raw: string,
  rule: string,
): Pick<FaultRule, 'kind' | 'status' | 'afterCreate' | 'value'> {
  if (scope === 'result') {
    const equals = raw.indexOf('=');
    const name = equals < 0 ? raw : raw.slice(0, equals);
    const expects = VALUED_KINDS[name];
    if (expects !== undefined) {
      const value = equals < 0 ? '' : decodeValue(raw.slice(equals + 1), rule);
      if (expects === 'url' && !URL.canParse(value)) {
        throw new FaultSyntaxError(`fault "${rule}": ${name}= needs a URL, percent-encoded`);
      }
      if (expects === 'bytes' && !/^\d+$/.test(value)) {
        throw new FaultSyntaxError(`fault "${rule}": ${name}= needs a number of bytes`);
      }
      return { kind: name, value, afterCreate: false };
    }
  }
  let kind = raw;
  let afterCreate = false;
  if (scope === 'post' && kind.endsWith(AFTER_CREATE)) {
    afterCreate = true;
    kind = kind.slice(0, -AFTER_CREATE.length);
  }
  if (/^\d{3}$/.test(kind) && scope !== 'result') {
    const status = Number(kind);
    if (status < 400 || status > 599) throw new FaultSyntaxError(`fault "${rule}": status must be 400..599`);
    return { kind: raw, status, afterCreate };
  }
  if (!KINDS[scope].includes(kind)) {
    const allowed = [...(scope === 'result' ? [] : ['<4xx|5xx status>']), ...KINDS[scope]];
    throw new FaultSyntaxError(
      `fault "${rule}": unknown ${scope} fault "${raw}"; one of ${allowed.join(', ')}`,
    );
  }
  return { kind: raw, afterCreate };
}

function parseNonNegativeInteger(value: string, rule: string, option: string): number {
  if (!/^\d+$/.test(value)) throw new FaultSyntaxError(`fault "${rule}": ${option} must be a whole number`);
  return Number(value);
}

/**
 * Parses a fault specification (empty or undefined: no faults).
 * @throws FaultSyntaxError naming the offending rule.
 */
export function parseFaults(spec: string | undefined): FaultRule[] {
  if (spec === undefined || spec.trim() === '') return [];
  return spec
    .split(',')
    .map((text) => text.trim())
    .filter((text) => text !== '')
    .map((text) => {
      const [head = '', ...options] = text.split(':').map((part) => part.trim());
      const scope = head as FaultScope;
      if (!SCOPES.includes(scope)) {
        throw new FaultSyntaxError(`fault "${text}": scope must be one of ${SCOPES.join(', ')}`);
      }
      const [kindAndProbability = '', ...rest] = options;
      const [rawKind = '', probabilityText] = kindAndProbability.split('@');
      const kind = parseKind(scope, rawKind, text);
      let probability = 1;
      if (probabilityText !== undefined) {
        probability = Number(probabilityText);
        if (probabilityText === '' || !Number.isFinite(probability) || probability < 0 || probability > 1) {
          throw new FaultSyntaxError(`fault "${text}": probability must be a number in 0..1`);
        }
      }
      let count = Number.POSITIVE_INFINITY;
      let after = 0;
      let retryAfterSeconds: number | undefined = kind.status === 429 ? 1 : undefined;
      let prompt: string | undefined;
      for (const option of rest) {
        const [name = '', value = ''] = option.split('=');
        if (name === 'prompt' && scope === 'result') prompt = decodeValue(value, text);
        else if (name === 'count') count = parseNonNegativeInteger(value, text, name);
        else if (name === 'after') after = parseNonNegativeInteger(value, text, name);
        else if (name === 'retry-after') {
          retryAfterSeconds = value === 'none' ? undefined : parseNonNegativeInteger(value, text, name);
        } else {
          throw new FaultSyntaxError(
            `fault "${text}": unknown option "${name}"; one of count, after, retry-after${scope === 'result' ? ', prompt' : ''}`,
          );
        }
      }
      return {
        scope,
        ...kind,
        probability,
        count,
        after,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
        ...(prompt === undefined ? {} : { prompt }),
        label: `${scope}:${rawKind}`,
      };
    });
}

/** Decides, request by request, which configured fault (if any) to inject. */
export class FaultInjector {
  private readonly state: { seen: number; fired: number }[];

  constructor(
    readonly rules: readonly FaultRule[],
    private readonly random: Random,
  ) {
    this.state = rules.map(() => ({ seen: 0, fired: 0 }));
  }

  /**
   * The first rule of `scope` that fires for this request, or `undefined`. Each call counts as
   * one matching request for every rule of that scope (and phase, for POST) it reaches; a rule
   * with a `prompt` option reaches only generations whose prompt contains it.
   */
  pick(scope: FaultScope, options: { afterCreate?: boolean; prompt?: string } = {}): FaultRule | undefined {
    const afterCreate = options.afterCreate ?? false;
    for (const [index, rule] of this.rules.entries()) {
      const state = this.state[index];
      if (state === undefined || rule.scope !== scope || rule.afterCreate !== afterCreate) continue;
      if (rule.prompt !== undefined && !(options.prompt ?? '').includes(rule.prompt)) continue;
      state.seen += 1;
      if (state.seen <= rule.after || state.fired >= rule.count) continue;
      if (rule.probability < 1 && this.random() >= rule.probability) continue;
      state.fired += 1;
      return rule;
    }
    return undefined;
  }
}
