import { Duration, FeatureFlags, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  Distribution,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, type ISource, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { ENABLE_PARTITION_LITERALS } from 'aws-cdk-lib/cx-api';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';

export interface ConsoleSiteProps {
  /**
   * The built console (a folder holding index.html, normally console/dist). Without it the site
   * serves a page saying the console was not built, and synth warns.
   */
  readonly assets?: string;
  /** A custom domain with its ACM certificate in us-east-1. @default the distribution's own domain */
  readonly domain?: { readonly name: string; readonly certificateArn: string };
}

/** What the site serves in place of an unbuilt console: it says so and how to fix it. */
export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Clover console not built</title></head>
<body><h1>The Clover console was not built</h1>
<p>This stage was deployed without <code>console/dist</code>. Build the console in the repository
(<code>npm run build:console</code>) and deploy again; the API is up meanwhile.</p></body></html>
`;

/**
 * The console's static site: a private S3 bucket (all public access blocked, TLS only, encrypted)
 * read by CloudFront through origin access control, HTTPS only, SPA fallback to index.html, security
 * headers. The deployment copies the built console and writes `config.json` after construction
 * (`deployConfig`), so one console build serves every stage.
 *
 * @example
 * const site = new ConsoleSite(this, 'Console', { assets: 'console/dist' });
 * site.deploy({ apiUrl: api.url, auth: { mode: 'cognito', ... } });
 */
export class ConsoleSite extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  /** `https://<domain>` (custom or CloudFront's), no trailing slash. */
  readonly url: string;
  private readonly assets: string | undefined;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    this.assets = props.assets;
    this.bucket = new Bucket(this, 'Assets', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Built assets only: rebuilt by any deploy, so they go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket holds only the built console, written by the deployment and read by CloudFront through origin access control; there is no user data whose access would need auditing.',
    });
    this.distribution = new Distribution(this, 'Cdn', {
      comment: 'Clover console',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: ResponseHeadersPolicy.SECURITY_HEADERS,
      },
      defaultRootObject: 'index.html',
      // The console routes in the browser: unknown paths get index.html (S3 answers 403 through OAC).
      errorResponses: [403, 404].map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 200,
        responsePagePath: '/index.html',
        ttl: Duration.seconds(0),
      })),
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      ...(props.domain
        ? {
            minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
            domainNames: [props.domain.name],
            certificate: Certificate.fromCertificateArn(this, 'Certificate', props.domain.certificateArn),
          }
        : {}),
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'The console is for the operators of this stage wherever they are; sign-in (Cognito with MFA) guards it, not geography.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'The distribution serves static files only; the API behind the console is throttled by API Gateway and needs a token. A WAF web ACL costs more than an idle stage and can be attached by operators who want one.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Static assets only: requests that matter (every API call) are logged by the API stage access log; standard CloudFront logging can be enabled by operators.',
      },
      ...(props.domain
        ? []
        : [
            {
              id: 'AwsSolutions-CFR4',
              reason:
                'Without a custom domain CloudFront serves its own *.cloudfront.net certificate, whose TLS policy it fixes (TLSv1); with -c domainName the distribution requires TLSv1.2_2021.',
            },
          ]),
    );
    this.url = `https://${props.domain?.name ?? this.distribution.distributionDomainName}`;
  }

  /** Copies the console (or the not-built page) and writes `config.json` from `config`, which may hold deploy-time values. */
  deploy(config: Readonly<Record<string, unknown>>): BucketDeployment {
    const sources: ISource[] = [
      // The build's own config.json is the local runtime's; the stage's is written below.
      this.assets
        ? Source.asset(this.assets, { exclude: ['config.json'] })
        : Source.data('index.html', NOT_BUILT_PAGE),
      Source.jsonData('config.json', config),
    ];
    const deployment = new BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      sources,
      distribution: this.distribution,
      distributionPaths: ['/index.html', '/config.json'],
      memoryLimit: 256,
    });
    // CDK's own deployment helper (one per stack): its function, runtime and role are CDK's.
    const helper = deployment.handlerRole.node.scope;
    const cdkHelper =
      "CDK's BucketDeployment helper, which copies the console into this stack's bucket at deploy time: its role is CDK's grant (read the CDK asset bucket, write this console bucket, invalidate this distribution) and its Python runtime is the one CDK ships it for.";
    if (helper) {
      Validations.of(helper).acknowledge(
        ...[
          'AwsSolutions-L1',
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          'AwsSolutions-IAM5[Action::s3:GetObject*]',
          'AwsSolutions-IAM5[Action::s3:GetBucket*]',
          'AwsSolutions-IAM5[Action::s3:List*]',
          'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
          'AwsSolutions-IAM5[Action::s3:Abort*]',
          'AwsSolutions-IAM5[Resource::*]',
          `AwsSolutions-IAM5[Resource::${assetBucketObjects(Stack.of(this))}]`,
          `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket)}.Arn>/*]`,
        ].map((id) => ({ id, reason: cdkHelper })),
      );
    }
    return deployment;
  }
}

/**
 * The CDK asset bucket's objects as cdk-nag prints them: the pseudo parameters where the stack has
 * no environment, the literal region (and its partition) where it has one.
 */
function assetBucketObjects(stack: Stack): string {
  const region = Token.isUnresolved(stack.region) ? undefined : stack.region;
  // CDK writes the partition literally only with a region and the partition-literals flag (cdk.json).
  const literal = region !== undefined && FeatureFlags.of(stack).isEnabled(ENABLE_PARTITION_LITERALS);
  const partition = literal ? (RegionInfo.get(region).partition ?? 'aws') : '<AWS::Partition>';
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `arn:${partition}:s3:::cdk-hnb659fds-assets-${account}-${region ?? '<AWS::Region>'}/*`;
}
