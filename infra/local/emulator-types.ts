/** An emulator as the local runtime and the tests hold it, whichever kind it is (emulator.ts starts one). */
export type EmulatorKind = 'external' | 'localstack' | 'moto';

export interface Emulator {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly kind: EmulatorKind;
  /** True when this process started the emulator and `stop()` will end it. */
  readonly owned: boolean;
  /** The moto_server process id, when this process spawned one. */
  readonly pid?: number;
  /**
   * moto_server's own endpoint, behind the linearizing proxy that `endpoint` is. Only for measuring
   * the proxy's cost (bench/dispatch-throughput.ts): Clover's traffic must go through the proxy.
   */
  readonly unproxiedEndpoint?: string;
  /** Ends an emulator this process started (graceful, then forceful); a no-op for one found running. */
  stop(): Promise<void>;
}

/** The credentials both emulators accept. */
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
