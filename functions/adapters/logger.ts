/**
 * The Powertools Logger behind the domain's `Logger` port. Its own module so that a function
 * needing nothing else (the webhook one) does not bundle the composition root's Tracer.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Logger } from '../domain/ports.js';

export function createLogger(serviceName = 'vidflow'): Logger {
  return new PowertoolsLogger({ serviceName });
}
