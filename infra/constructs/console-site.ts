import { readdirSync } from 'node:fs';
import {
  Annotations,
  Aws,
  Duration,
  FeatureFlags,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AccessLevel,
  Function as CloudFrontFunction,
  Distribution,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
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
 * The Content-Security-Policy of the console: its own scripts only; inline styles (Recharts and
 * React set `style` attributes); fetches to itself (config.json), the stage's HTTP API and Cognito
 * (OIDC metadata and keys at cognito-idp, tokens at the hosted UI's domain). The API and the hosted
 * UI are named by pattern in the region, not by their ids: the API's CORS names the console's origin,
 * so naming the API here would make the distribution and the API depend on each other.
 */
export function consoleCsp(region: string, urlSuffix: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' https://*.execute-api.${region}.${urlSuffix} https://cognito-idp.${region}.${urlSuffix} https://*.auth.${region}.amazoncognito.com`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The viewer-request function's code: the site's own files (`/assets/*` and the files at its root)
 * go to S3 as asked, so a missing one is answered 404; every other path is a console route (run ids
 * hold dots, so "has an extension" cannot tell them apart) and gets index.html.
 */
export function spaRoutingCode(rootFiles: readonly string[]): string {
  const files = Object.fromEntries(rootFiles.map((file) => [`/${file}`, true]));
  return `var FILES = ${JSON.stringify(files)};
function handler(event) {
  var request = event.request;
  if (request.uri.indexOf('/assets/') === 0 || FILES[request.uri]) return request;
  request.uri = '/index.html';
  return request;
}
`;
}

/**
 * The console's static site: a private S3 bucket (all public access blocked, TLS only, encrypted)
 * read by CloudFront through origin access control, HTTPS only, client-side routes answered with
 * index.html by a CloudFront Function and missing files with 404, a Content-Security-Policy and the
 * usual security headers. The deployment copies the built console and writes `config.json` after construction
 * (`deployConfig`), so one console build serves every stage.
 *
 * @example
 * const site = new ConsoleSite(this, 'Console', { assets: 'console/dist' });
 * site.deploy({ apiUrl: api.url, auth: { mode: 'cognito', ... } });
 */
export class ConsoleSite extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  /** The Content-Security-Policy and security headers of every answer. */
  readonly headers: ResponseHeadersPolicy;
  /** The viewer-request function that sends client-side routes to index.html. */
  readonly routing: CloudFrontFunction;
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
    const stack = Stack.of(this);
    this.headers = new ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Clover console: CSP and security headers',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: consoleCsp(stack.region, Aws.URL_SUFFIX),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: {
          referrerPolicy: HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });
    this.routing = new CloudFrontFunction(this, 'Routing', {
      comment: 'Clover console: client-side routes get index.html, missing files 404',
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(spaRoutingCode(rootFiles(props.assets))),
    });
    this.distribution = new Distribution(this, 'Cdn', {
      comment: 'Clover console',
      defaultBehavior: {
        // LIST lets S3 answer a missing object with 404 rather than 403 (which would read as "forbidden").
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket, {
          originAccessLevels: [AccessLevel.READ, AccessLevel.LIST],
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: this.headers,
        functionAssociations: [{ function: this.routing, eventType: FunctionEventType.VIEWER_REQUEST }],
      },
      defaultRootObject: 'index.html',
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
    Annotations.of(this.distribution).acknowledgeWarning(
      '@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk',
      'The default root object is index.html, so the bucket root never lists; LIST only turns a missing file into 404.',
    );
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

/** The files at the root of the built console (or the not-built page), and the stage's config.json. */
function rootFiles(assets: string | undefined): string[] {
  const built = assets
    ? readdirSync(assets, { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name)
    : ['index.html'];
  return [...new Set([...built, 'config.json'])].sort();
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
