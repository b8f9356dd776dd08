import { API_ENTRY_FOR_TESTS, synth } from './synth';

/** Everything on: a new VPC (ZeroMQ), the API and console, declared agents, a custom domain, deletion protection. */
export const full = synth({
  vpc: { kind: 'new' },
  apiEntry: API_ENTRY_FOR_TESTS,
  consoleAssets: null,
  agents: [
    { workerId: 'host-1', pool: 'default' },
    { workerId: 'gpu-1', pool: 'gpu' },
  ],
  deletionProtection: true,
  sesIdentity: 'import',
  domain: {
    name: 'clover.example.org',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012',
  },
});
