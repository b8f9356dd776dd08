import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { type CloverFunctionLogProps, CloverNodeFunction, logPropsOf } from './node-function';

export interface CurveKeysProps extends CloverFunctionLogProps {
  /** The stage's resource prefix: the secret is `${prefix}/dispatcher-curve-keys`, the parameter `/${prefix}/dispatcher-curve-public-key`. */
  readonly prefix: string;
  /**
   * Raising it makes the next deploy generate a new key pair (docs/deploy.md, "Rotating the
   * dispatcher's CURVE keys"); the same value keeps the pair.
   * @default 1
   */
  readonly version?: number;
}

/**
 * The dispatcher's CURVE key pair for direct ZeroMQ delivery: a Secrets Manager secret filled at
 * deploy by a custom resource (functions/curve-keys/handler.ts) that generates the pair inside AWS —
 * neither key is in the template, the assembly or an environment variable — and an SSM parameter
 * holding only the public key, which agents allow-list (their `zmq.dispatcherPublicKeys`).
 *
 * @example
 * const keys = new CurveKeys(this, 'CurveKeys', { prefix });
 * keys.grantRead(dispatcher.role);
 */
export class CurveKeys extends Construct {
  readonly secret: Secret;
  readonly publicKeyParameter: StringParameter;
  readonly generator: CloverNodeFunction;

  constructor(scope: Construct, id: string, props: CurveKeysProps) {
    super(scope, id);
    const version = props.version ?? 1;
    this.secret = new Secret(this, 'Secret', {
      secretName: `${props.prefix}/dispatcher-curve-keys`,
      description: `Clover ${props.prefix}: the dispatcher's ZeroMQ CURVE key pair (JSON publicKey, secretKey; Z85), generated at deploy`,
      // The generator overwrites this placeholder before anything reads the secret.
      generateSecretString: { excludePunctuation: true, passwordLength: 32 },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A CURVE key pair cannot rotate on a timer: every agent allow-lists the public key, so a new pair must reach the agents first. Rotation is a deploy with a raised curveKeyVersion, documented in docs/deploy.md.',
    });

    this.generator = new CloverNodeFunction(this, 'Generator', {
      prefix: props.prefix,
      name: 'curve-keys',
      entry: 'functions/curve-keys/handler.ts',
      description: "Clover deploy step: generates the dispatcher's CURVE key pair into Secrets Manager",
      memorySize: 256,
      timeout: Duration.seconds(60),
      ...logPropsOf(props),
    });
    this.generator.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'WriteAndReadTheKeySecret',
        actions: ['secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'],
        resources: [this.secret.secretArn],
      }),
    );

    const keys = new CustomResource(this, 'KeyPair', {
      serviceToken: this.generator.fn.functionArn,
      resourceType: 'Custom::CloverCurveKeys',
      properties: { SecretArn: this.secret.secretArn, Version: String(version) },
    });
    keys.node.addDependency(this.generator.role);

    this.publicKeyParameter = new StringParameter(this, 'PublicKey', {
      parameterName: `/${props.prefix}/dispatcher-curve-public-key`,
      description: `Clover ${props.prefix}: the dispatcher's CURVE public key (Z85); agents allow-list it`,
      stringValue: keys.getAttString('PublicKey'),
    });
  }

  /** Lets `grantee` read the key pair (the dispatcher, at cold start). */
  grantRead(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadCurveKeys',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.secret.secretArn],
      }),
    );
  }
}
