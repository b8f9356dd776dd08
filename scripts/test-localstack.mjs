#!/usr/bin/env node
// `npm run test:localstack [-- path-substring ...]`: the integration tests against LocalStack 4.14.0
// (docker-compose.yml) instead of moto. Uses a LocalStack already answering on :4566, else starts the
// compose service and removes it afterwards. Without a Docker engine it says the tests were not run
// and exits 77 (automake's "skipped"): not 0, so nothing can count it as passed; not 1, so a caller
// can tell "not run" from "failed". This suite is not part of `npm test`, which runs the same tests on moto.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const endpoint = 'http://127.0.0.1:4566';
const EXIT_NOT_RUN = 77;

async function localStackAnswers() {
  try {
    const response = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

function dockerAnswers() {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

let started = false;
if (!(await localStackAnswers())) {
  if (!dockerAnswers()) {
    console.log(
      'test:localstack not run: no Docker engine answers (`docker info` failed) and nothing listens on :4566.\n' +
        'Start Docker and run this again (it starts LocalStack 4.14.0 from docker-compose.yml), or start\n' +
        'LocalStack yourself. `npm test` runs the same integration tests on moto.',
    );
    process.exit(EXIT_NOT_RUN);
  }
  console.log('== starting LocalStack 4.14.0 (docker compose up -d --wait)');
  const up = spawnSync('docker', ['compose', 'up', '-d', '--wait', 'localstack'], {
    cwd: repo,
    stdio: 'inherit',
  });
  if (up.status !== 0) {
    console.error('test:localstack: `docker compose up` failed; see above');
    process.exit(1);
  }
  started = true;
}

const filters = process.argv.slice(2);
console.log(`== integration tests against LocalStack at ${endpoint}`);
const run = spawnSync(
  process.execPath,
  [join(repo, 'scripts/run-tests.mjs'), ...(filters.length ? filters : ['test/'])],
  {
    cwd: repo,
    stdio: 'inherit',
    env: {
      ...process.env,
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    },
  },
);
if (started) spawnSync('docker', ['compose', 'down'], { cwd: repo, stdio: 'inherit' });
process.exit(run.status ?? 1);
