/**
 * Authenticated and encrypted listeners for a local broker (docs/security.md), next to the PLAINTEXT listener that
 * inter-broker traffic, the controller and test set-up keep using. No authorizer: a listener here proves who a
 * client is and encrypts what it sends, which is what the stage's SASL and TLS settings are tested against.
 *
 * - SASL accounts get SCRAM-SHA-256 and SCRAM-SHA-512 credentials written into the metadata log when the storage
 *   is formatted (`kafka-storage format --add-scram`, KRaft's way: there is no ZooKeeper to hold them), and a
 *   PLAIN account in the listener's JAAS configuration.
 * - TLS uses a CA made for this broker alone (keytool from the JDK that runs it): the broker's certificate names
 *   127.0.0.1 and localhost, and the CA's PEM file is what a client passes as KAFKA_SSL_CA_FILE.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

export interface BrokerSecurity {
  /**
   * SASL accounts, user name → password (letters, digits, `.`, `_`, `-`): each may log in with SCRAM-SHA-256,
   * SCRAM-SHA-512 or PLAIN. Adds a SASL_PLAINTEXT listener, and a SASL_SSL one with `tls`.
   */
  saslUsers?: Readonly<Record<string, string>>;
  /** A CA and broker certificate of this broker's own; adds an SSL listener, and a SASL_SSL one with `saslUsers`. */
  tls?: boolean;
}

export type ListenerName = 'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL';

/** The mechanisms every SASL listener enables; kafkajs names them in lower case. */
export const BROKER_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** Safe inside JAAS quotes, the `--add-scram` bracket syntax and a properties file without escaping. */
const PLAIN_TOKEN = /^[A-Za-z0-9._-]+$/;
const CERTIFICATE_VALIDITY_DAYS = '30';

/** The listeners `security` adds beside PLAINTEXT and CONTROLLER, in a fixed order. */
export function extraListeners(security: BrokerSecurity): ListenerName[] {
  const sasl = hasSaslUsers(security);
  const tls = security.tls === true;
  return [
    ...(sasl ? (['SASL_PLAINTEXT'] as const) : []),
    ...(tls ? (['SSL'] as const) : []),
    ...(sasl && tls ? (['SASL_SSL'] as const) : []),
  ];
}

function hasSaslUsers(security: BrokerSecurity): boolean {
  return Object.keys(security.saslUsers ?? {}).length > 0;
}

function checkedUsers(security: BrokerSecurity): [string, string][] {
  const users = Object.entries(security.saslUsers ?? {});
  for (const [name, password] of users) {
    if (!PLAIN_TOKEN.test(name) || !PLAIN_TOKEN.test(password)) {
      throw new Error(`SASL user "${name}": names and passwords may use only letters, digits, '.', '_', '-'`);
    }
  }
  return users;
}

/** Arguments for `kafka.tools.StorageTool format`: the SCRAM credentials of every SASL account. */
export function scramFormatArguments(security: BrokerSecurity): string[] {
  return checkedUsers(security).flatMap(([name, password]) =>
    SCRAM_MECHANISMS.flatMap((mechanism) => [
      '--add-scram',
      `${mechanism}=[name=${name},password=${password}]`,
    ]),
  );
}

export interface TlsMaterial {
  /** PEM of the CA that signed the broker's certificate: a client's KAFKA_SSL_CA_FILE. */
  readonly caFile: string;
  /** PKCS12 store of the broker's key and certificate chain. */
  readonly keystoreFile: string;
  readonly keystorePassword: string;
}

/**
 * Makes a CA and a broker certificate signed by it under `dir` with keytool (the JDK's own, beside `javaBin`):
 * seven short JVM runs, a few seconds. EC P-256 keys keep them quick.
 */
export function createTlsMaterial(dir: string, javaBin: string): TlsMaterial {
  mkdirSync(dir, { recursive: true });
  const keytool = isAbsolute(javaBin) ? join(dirname(javaBin), 'keytool') : 'keytool';
  const password = randomBytes(12).toString('hex');
  const ca = join(dir, 'ca.p12');
  const keystoreFile = join(dir, 'broker.p12');
  const caFile = join(dir, 'ca.pem');
  const csr = join(dir, 'broker.csr');
  const brokerCert = join(dir, 'broker.pem');
  const key = ['-keyalg', 'EC', '-groupname', 'secp256r1', '-validity', CERTIFICATE_VALIDITY_DAYS];
  const store = (file: string) => ['-keystore', file, '-storetype', 'PKCS12', '-storepass', password];
  const run = (...args: string[]) => {
    execFileSync(keytool, ['-noprompt', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  };

  run('-genkeypair', ...store(ca), '-alias', 'ca', '-dname', 'CN=eos-rollup test CA', ...key, '-ext', 'bc:c');
  run('-exportcert', ...store(ca), '-alias', 'ca', '-rfc', '-file', caFile);
  run('-genkeypair', ...store(keystoreFile), '-alias', 'broker', '-dname', 'CN=127.0.0.1', ...key);
  run('-certreq', ...store(keystoreFile), '-alias', 'broker', '-file', csr);
  run(
    '-gencert',
    ...store(ca),
    '-alias',
    'ca',
    '-infile',
    csr,
    '-outfile',
    brokerCert,
    '-rfc',
    '-validity',
    CERTIFICATE_VALIDITY_DAYS,
    '-ext',
    'SAN=ip:127.0.0.1,dns:localhost',
    '-ext',
    'EKU=serverAuth',
  );
  // The CA first, so keytool can build the chain when the signed certificate replaces the self-signed one.
  run('-importcert', ...store(keystoreFile), '-alias', 'ca', '-file', caFile);
  run('-importcert', ...store(keystoreFile), '-alias', 'broker', '-file', brokerCert);
  if (!existsSync(caFile)) throw new Error(`keytool did not write ${caFile}`);
  return { caFile, keystoreFile, keystorePassword: password };
}

/**
 * server.properties entries for the SASL and TLS listeners (the listener addresses themselves are the caller's):
 * every mechanism enabled, a JAAS entry per listener and mechanism, and the broker's keystore.
 */
export function securityProperties(
  security: BrokerSecurity,
  tls: TlsMaterial | undefined,
): Record<string, string> {
  const properties: Record<string, string> = {};
  const users = checkedUsers(security);
  const saslListeners = extraListeners(security).filter((name) => name.startsWith('SASL_'));
  if (saslListeners.length > 0) {
    properties['sasl.enabled.mechanisms'] = BROKER_SASL_MECHANISMS.join(',');
    const plainUsers = users.map(([name, password]) => `user_${name}="${password}"`).join(' ');
    for (const listener of saslListeners) {
      const prefix = `listener.name.${listener.toLowerCase()}`;
      for (const mechanism of SCRAM_MECHANISMS) {
        properties[`${prefix}.${mechanism.toLowerCase()}.sasl.jaas.config`] =
          'org.apache.kafka.common.security.scram.ScramLoginModule required;';
      }
      properties[`${prefix}.plain.sasl.jaas.config`] =
        `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`;
    }
  }
  if (tls) {
    properties['ssl.keystore.type'] = 'PKCS12';
    properties['ssl.keystore.location'] = tls.keystoreFile;
    properties['ssl.keystore.password'] = tls.keystorePassword;
    properties['ssl.key.password'] = tls.keystorePassword;
  }
  return properties;
}
