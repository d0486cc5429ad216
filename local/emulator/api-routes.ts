/**
 * The provider API the client calls: create a generation (`POST /v2/video/generations`) and ask
 * for its status (`GET ...?generation_id=`). Each call is checked in the provider's order:
 * authorization, then an injected fault (only authorized calls see one), then the body's rules
 * (`models/`, written from the provider's published rules, not the client's), then the account.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultInjector, FaultRule } from './faults.js';
import type { Generations } from './generations.js';
import {
  BodyTooLargeError,
  documentedErrorBody,
  type Exchange,
  type Responder,
  readBody,
  sendJson,
} from './http.js';
import { decodeDataUri, describeDataUri } from './input.js';
import { type EmulatedCreate, validateModelCreate } from './models/index.js';
import type { EmulatorStore, GenerationRecord } from './store.js';

/** What the API routes work with. */
export interface ApiRoutesProps {
  /** The one accepted Bearer key. */
  readonly apiKey: string;
  readonly generations: Generations;
  readonly store: EmulatorStore;
  readonly faults: FaultInjector;
  readonly responder: Responder;
  /** Longest `video_url` data URI, counted as encoded. */
  readonly maxDataUriChars: number;
}

/** The create and status calls. */
export class ApiRoutes {
  constructor(private readonly props: ApiRoutesProps) {}

  /** `POST`: validates, creates the generation (its work starts in the background), answers `queued`. */
  async create(request: IncomingMessage, response: ServerResponse, exchange: Exchange): Promise<void> {
    const { responder, faults } = this.props;
    let raw: Buffer;
    try {
      raw = await readBody(request);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        await responder.json(exchange, response, 413, { message: error.message, errors: [] });
        return;
      }
      throw error;
    }
    let body: unknown;
    let parsed = true;
    try {
      body = JSON.parse(raw.toString('utf8'));
      exchange.body = redact(body);
    } catch {
      parsed = false;
      exchange.body = redactText(raw.toString('utf8'));
    }
    if (await this.refuseUnauthorized(request, response, exchange)) return;
    const fault = faults.pick('post');
    if (fault) {
      await this.injectFault(exchange, response, fault, 200);
      return;
    }
    if (!parsed) {
      const errors = [{ path: '', message: 'the body must be valid JSON' }];
      await responder.json(exchange, response, 400, {
        message: 'Invalid request: the body must be valid JSON',
        errors,
      });
      return;
    }
    const validation = validateModelCreate(body);
    if (!validation.ok) {
      const message = `Invalid request: ${validation.errors.map((e) => e.message).join('; ')}`;
      await responder.json(exchange, response, 400, { message, errors: validation.errors });
      return;
    }
    await this.createValid(validation.value, response, exchange);
  }

  /** `GET ?generation_id=`: the generation's status, derived from the clock. */
  async poll(request: IncomingMessage, response: ServerResponse, exchange: Exchange): Promise<void> {
    const { responder } = this.props;
    request.resume();
    if (await this.refuseUnauthorized(request, response, exchange)) return;
    const id = exchange.query.generation_id;
    if (id) exchange.generationId = id;
    const fault = this.props.faults.pick('get');
    if (fault) {
      await this.injectFault(exchange, response, fault, 200);
      return;
    }
    if (!id) {
      const message = 'generation_id is required';
      await responder.json(exchange, response, 400, {
        message,
        errors: [{ path: 'generation_id', message }],
      });
      return;
    }
    const generation = this.props.generations.get(id);
    if (!generation) {
      await responder.json(exchange, response, 404, { message: `Generation ${id} not found` });
      return;
    }
    await responder.json(exchange, response, 200, this.props.generations.describe(generation));
  }

  /**
   * A valid body: a data URI input is decoded and stored before the answer (a URL is fetched
   * later, in the background), the account pays, then the generation exists.
   */
  private async createValid(
    value: EmulatedCreate,
    response: ServerResponse,
    exchange: Exchange,
  ): Promise<void> {
    const { responder, generations, maxDataUriChars } = this.props;
    const id = randomUUID();
    let input: GenerationRecord['input'];
    if (value.video_url.startsWith('data:')) {
      if (value.video_url.length > maxDataUriChars) {
        const message = `video_url data URI is ${value.video_url.length} characters long as encoded; at most ${maxDataUriChars}`;
        await responder.json(exchange, response, 400, { message, errors: [{ path: 'video_url', message }] });
        return;
      }
      const data = decodeDataUri(value.video_url);
      await this.props.store.saveInput(id, data.bytes);
      input = { kind: 'data', mediaType: data.mediaType, bytes: data.bytes.length };
    } else {
      input = { kind: 'url', url: value.video_url };
    }
    if (!generations.charge()) {
      await responder.json(exchange, response, 403, { message: "You've run out of credits" });
      return;
    }
    await generations.create(id, value, input);
    exchange.generationId = id;
    // The ambiguous submit: the generation exists, then the answer misbehaves.
    const afterCreate = this.props.faults.pick('post', { afterCreate: true });
    if (afterCreate) {
      await this.injectFault(exchange, response, afterCreate, 200);
      return;
    }
    await responder.json(exchange, response, 200, { id, status: 'queued' });
  }

  /** Answers 401 without a Bearer key or with a wrong one; false when authorized. */
  private async refuseUnauthorized(
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange,
  ): Promise<boolean> {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S.*)$/i.exec(header);
    let message: string | undefined;
    if (!match) message = 'Unauthorized: an Authorization: Bearer <API key> header is required';
    else {
      const given = Buffer.from((match[1] ?? '').trim());
      const expected = Buffer.from(this.props.apiKey);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        message = 'Unauthorized: the API key is not valid';
      }
    }
    if (message === undefined) return false;
    await this.props.responder.json(exchange, response, 401, { message });
    return true;
  }

  /** Misbehaves as `fault` says, for the create and status calls. */
  private async injectFault(
    exchange: Exchange,
    response: ServerResponse,
    fault: FaultRule,
    successStatus: number,
  ): Promise<void> {
    const { responder } = this.props;
    const kind = fault.kind.replace(/-after-create$/, '');
    if (kind === 'timeout') {
      await responder.record(exchange, 0, fault); // Never answered; stop() drops the connection.
      return;
    }
    if (kind === 'reset') {
      await responder.record(exchange, 0, fault);
      response.socket?.destroy();
      return;
    }
    if (kind === 'malformed') {
      await responder.record(exchange, successStatus, fault);
      const text = `{"id":"${exchange.generationId ?? randomUUID()}","status":`;
      response.writeHead(successStatus, {
        'Content-Type': 'application/json',
        'Content-Length': text.length,
      });
      response.end(text);
      return;
    }
    const status = fault.status ?? 500;
    await responder.record(exchange, status, fault);
    const headers: Record<string, string> =
      fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
    const message =
      status === 429
        ? 'Too many requests, please slow down'
        : `Injected fault ${fault.label}: upstream error`;
    sendJson(response, status, documentedErrorBody(exchange, status, { message }), headers);
  }
}

/** Replaces every `data:` URI in a JSON value by its description, so logs never hold video bytes. */
function redact(value: unknown): unknown {
  if (typeof value === 'string') return /^data:[^,]*,/.test(value) ? describeDataUri(value) : value;
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redact(item)]));
  }
  return value;
}

/** A body that is not JSON, as logged: data URIs described, at most 2000 characters. */
function redactText(text: string): string {
  const replaced = text.replace(/data:[^,"\s]*,[^"\s]*/g, (uri) => describeDataUri(uri));
  return replaced.length > 2000 ? `${replaced.slice(0, 2000)}…<${text.length} characters>` : replaced;
}
