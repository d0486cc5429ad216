/**
 * The polling state machine's state names, kept free of CDK imports so the console can read
 * execution histories without loading the CDK.
 */
export const StateName = {
  waitBeforeChecking: 'Wait before checking',
  checkGeneration: 'Check the generation',
  generationFinished: 'Generation finished?',
  copyResult: 'Copy the result to the output bucket',
  admitAfterCompletion: 'Let waiting jobs in',
  jobCompleted: 'Job completed',
  recordFailure: 'Record the failure',
  admitAfterFailure: 'Let waiting jobs in after the failure',
  jobFailed: 'Job failed',
} as const;

export type StateName = (typeof StateName)[keyof typeof StateName];
