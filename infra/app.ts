#!/usr/bin/env node
/**
 * The CDK app (`cdk.json` runs it with tsx). Context knobs are read here, never in the stack.
 */
import { App } from 'aws-cdk-lib';
import { readStackPropsFromContext } from './context.js';
import { addNagChecks } from './nag.js';
import { VIDFLOW_STACK_ID, VidflowStack } from './vidflow-stack.js';

const app = new App();
addNagChecks(app);
new VidflowStack(app, VIDFLOW_STACK_ID, {
  ...readStackPropsFromContext(app.node),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
