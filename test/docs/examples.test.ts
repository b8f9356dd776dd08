/** The docs test's reading of marks (examples.ts): what counts as marked, and what is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shellExamples } from './examples';

const fence = '```';

test('runnable and illustrative marks are read from the line before the fence; other languages are not examples', () => {
  const md = [
    '<!-- runnable exit=3 output=/no worker/i -->',
    `${fence}sh`,
    'npx clover jobs trigger x --wait',
    fence,
    '',
    '<!-- illustrative: needs an AWS account -->',
    '',
    `${fence}bash`,
    'npx cdk deploy',
    fence,
    `${fence}yaml`,
    'pool: default',
    fence,
  ].join('\n');
  const [runnable, illustrative, ...rest] = shellExamples('x.md', md);
  assert.deepEqual(rest, []);
  assert.equal(runnable?.line, 2);
  assert.equal(runnable?.code, 'npx clover jobs trigger x --wait');
  assert.ok(runnable?.mark.kind === 'runnable');
  assert.equal(runnable.mark.exit, 3);
  assert.ok(runnable.mark.output.test('NO WORKER'));
  assert.deepEqual(illustrative?.mark, { kind: 'illustrative', reason: 'needs an AWS account' });
});

test('bad input: an unmarked example, a runnable mark without an output check, an illustrative one without a reason', () => {
  const md = [
    `${fence}sh`,
    'a',
    fence,
    '<!-- runnable exit=0 -->',
    `${fence}sh`,
    'b',
    fence,
    '<!-- illustrative: -->',
    `${fence}sh`,
    'c',
    fence,
  ].join('\n');
  assert.deepEqual(
    shellExamples('x.md', md).map((e) => e.mark),
    [
      { kind: 'unmarked', problem: 'no <!-- runnable ... --> or <!-- illustrative: ... --> mark' },
      { kind: 'bad', problem: 'a runnable mark needs output=/regex/ (last)' },
      { kind: 'bad', problem: 'an illustrative mark needs a reason' },
    ],
  );
});
