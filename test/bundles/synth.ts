/**
 * The Lambda assets exactly as a deploy ships them: `npx cdk synth` of infra/app.ts with bundling on
 * (the same NodejsFunction options, esbuild run and npm install beside each bundle), into a
 * temporary cloud assembly, read back through the template.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One Clover function of the synthesized template, with the directory its asset was built into. */
export interface SynthesizedFunction {
  /** `FunctionName`, e.g. `clover-ci-dispatcher`. */
  readonly name: string;
  readonly assetDir: string;
  readonly handler: string;
  readonly runtime: string;
  readonly architectures: readonly string[];
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** The template's `Environment.Variables`: strings, or CloudFormation intrinsics. */
  readonly environment: Readonly<Record<string, unknown>>;
}

/** One EventBridge Scheduler schedule the template makes (the precise-jobs planner's). */
export interface SynthesizedSchedule {
  readonly name: string;
  /** The target's input as Scheduler holds it, context attributes unreplaced. */
  readonly input: string;
}

interface TemplateFunction {
  readonly Type: string;
  readonly Metadata?: Record<string, unknown>;
  readonly Properties: {
    readonly FunctionName?: unknown;
    readonly Handler: string;
    readonly Runtime: string;
    readonly Architectures?: string[];
    readonly Timeout?: number;
    readonly MemorySize?: number;
    readonly Environment?: { readonly Variables?: Record<string, unknown> };
    readonly Name?: string;
    readonly Target?: { readonly Input?: string };
  };
}

/**
 * Runs `npx cdk synth` with `context` into `outDir` and returns the stage's own functions (those
 * named `<stack>-*`; CDK's provider functions are CDK's) and its schedules. Fails with synth's
 * output when it fails.
 */
export async function synthesizeFunctions(
  outDir: string,
  context: Readonly<Record<string, string>>,
): Promise<{
  readonly stack: string;
  readonly functions: SynthesizedFunction[];
  readonly schedules: SynthesizedSchedule[];
}> {
  const args = ['cdk', 'synth', '--quiet', '--output', outDir];
  for (const [key, value] of Object.entries(context)) args.push('-c', `${key}=${value}`);
  const child = spawn('npx', args, {
    cwd: ROOT,
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', AWS_REGION: 'eu-west-1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`npx cdk synth failed (${code}):\n${output.slice(-10_000)}`);
  const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const [stack, artifact] =
    Object.entries(manifest.artifacts).find(([, a]) => a.type === 'aws:cloudformation:stack') ?? [];
  if (!stack || !artifact?.properties?.templateFile) throw new Error(`no stack in ${outDir}/manifest.json`);
  const template = JSON.parse(readFileSync(join(outDir, artifact.properties.templateFile), 'utf8')) as {
    Resources: Record<string, TemplateFunction>;
  };
  const functions: SynthesizedFunction[] = [];
  const schedules: SynthesizedSchedule[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const { Properties: p, Metadata } = resource;
    if (resource.Type === 'AWS::Scheduler::Schedule') {
      schedules.push({ name: p.Name ?? id, input: p.Target?.Input ?? '' });
      continue;
    }
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    if (typeof p.FunctionName !== 'string' || !p.FunctionName.startsWith(`${stack}-`)) continue;
    const assetPath = Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string') throw new Error(`${p.FunctionName} (${id}) names no asset path`);
    functions.push({
      name: p.FunctionName,
      assetDir: join(outDir, assetPath),
      handler: p.Handler,
      runtime: p.Runtime,
      architectures: p.Architectures ?? ['x86_64'],
      timeoutSeconds: p.Timeout ?? 3,
      memorySize: p.MemorySize ?? 128,
      environment: p.Environment?.Variables ?? {},
    });
  }
  return { stack, functions, schedules };
}

/**
 * The function's environment with CloudFormation's intrinsics resolved: `resolve` answers each
 * `Ref` and `Fn::GetAtt` (by the variable it sits in), `Fn::Join` is joined, pseudo parameters are
 * the emulator's account and region.
 */
export function resolveEnvironment(
  environment: Readonly<Record<string, unknown>>,
  region: string,
  resolve: (variable: string, reference: string) => string | undefined,
): Record<string, string> {
  const pseudo: Record<string, string> = {
    'AWS::AccountId': '123456789012',
    'AWS::Region': region,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const value = (variable: string, v: unknown): string => {
    if (typeof v === 'string') return v;
    const node = v as Record<string, unknown>;
    if (typeof node.Ref === 'string') return pseudo[node.Ref] ?? answer(variable, node.Ref);
    if (Array.isArray(node['Fn::GetAtt'])) return answer(variable, node['Fn::GetAtt'].join('.'));
    if (Array.isArray(node['Fn::Join'])) {
      const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => value(variable, part)).join(separator);
    }
    throw new Error(`${variable}: cannot resolve ${JSON.stringify(v)}`);
  };
  const answer = (variable: string, reference: string): string => {
    const resolved = resolve(variable, reference);
    if (resolved === undefined) throw new Error(`${variable}: nothing given for ${reference}`);
    return resolved;
  };
  return Object.fromEntries(Object.entries(environment).map(([name, v]) => [name, value(name, v)]));
}
