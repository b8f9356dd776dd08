// Runs inside the arm64 Node.js under qemu (test/bundles/arm64-lambda.ts): loads one Lambda asset the
// way Lambda's Node.js runtime loads a CommonJS handler — require('<task root>/<module>') with the
// task root as working directory — then invokes the handler once per request line on stdin, one at a
// time as a Lambda container does. Answers go to file descriptor 3 as JSON lines, so the handler's
// own logs (stdout, stderr) stay apart:
//   {"type":"ready"} | {"type":"load-error","error":...}
//   {"id":1,"result":...} | {"id":1,"error":...}
// Plain CommonJS: nothing here is compiled, and no test code runs on the arm64 side but this file.
'use strict';
const { randomUUID } = require('node:crypto');
const { writeSync } = require('node:fs');
const { join } = require('node:path');
const { createInterface } = require('node:readline');

const [taskRoot, handlerSpec, functionName, timeoutSeconds] = process.argv.slice(2);
const dot = handlerSpec.lastIndexOf('.');
const moduleName = handlerSpec.slice(0, dot);
const exportName = handlerSpec.slice(dot + 1);

function answer(message) {
  writeSync(3, `${JSON.stringify(message)}\n`);
}

function describe(error) {
  return error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : error;
}

/** The Lambda context fields handlers read (Node.js runtime, https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html). */
function context() {
  const deadline = Date.now() + Number(timeoutSeconds) * 1000;
  return {
    awsRequestId: randomUUID(),
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:123456789012:function:${functionName}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bundle-test',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

let handler;
try {
  handler = require(join(taskRoot, moduleName))[exportName];
  if (typeof handler !== 'function')
    throw new Error(`${handlerSpec} is not a function but ${typeof handler}`);
} catch (error) {
  answer({ type: 'load-error', error: describe(error) });
  process.exit(1);
}
answer({ type: 'ready', node: process.version, arch: process.arch });

let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, event } = JSON.parse(line);
  queue = queue.then(async () => {
    try {
      const result = await handler(event, context());
      answer({ id, result: result === undefined ? null : result });
    } catch (error) {
      answer({ id, error: describe(error) });
    }
  });
});
