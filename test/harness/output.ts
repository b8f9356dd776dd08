/**
 * What code writes to stdout and stderr while `fn` runs, as lines: Powertools for AWS Lambda's Logger
 * and Metrics write there through their own Console (functions/telemetry.ts, functions/metrics.ts) —
 * warnings and errors on stderr — and CloudWatch Logs keeps both, so a test reads them the way it
 * does. Only lines that look like JSON are kept (and not passed on); anything else, such as the test
 * runner's own output, still reaches the stream.
 *
 * @example
 * const { result, lines } = await captureOutput(() => handler(event, context));
 * const entries = lines.map((line) => JSON.parse(line));
 */
export async function captureOutput<T>(fn: () => Promise<T> | T): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const restore = [process.stdout, process.stderr].map((stream) => {
    const original = stream.write;
    let partial = '';
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (partial === '' && !text.startsWith('{')) {
        return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
      }
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter((line) => line.length > 0));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
    return () => {
      stream.write = original;
      if (partial) lines.push(partial);
    };
  });
  try {
    const result = await fn();
    return { result, lines };
  } finally {
    for (const undo of restore) undo();
  }
}
