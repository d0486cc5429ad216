#!/usr/bin/env node
/**
 * The CDK app (`cdk.json` runs it with tsx). Context knobs are read here, never in the stack.
 */
import { App } from 'aws-cdk-lib';
import { readStackNameFromContext, readStackPropsFromContext } from './context.js';
import { addNagChecks } from './nag.js';
import { VidflowStack } from './vidflow-stack.js';

const app = new App();
addNagChecks(app);
// `-c stackName=VidflowDev` deploys a second, independent copy (infra/physical-names.ts).
new VidflowStack(app, readStackNameFromContext(app.node), {
  ...readStackPropsFromContext(app.node),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
