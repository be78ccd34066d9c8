/**
 * SASL for kafkajs, with failures that say who failed where. kafkajs' own messages name the mechanism only
 * ("SASL SCRAM SHA512 authentication failed: …"); an operator reading the one-line exit reason also needs the user
 * and the broker, so each attempt runs kafkajs' built-in authenticator and a failure is rethrown naming all three.
 * The password is in none of them: kafkajs never puts it in a message, and neither does this.
 *
 * kafkajs 2.2.4 (pinned) does not export its built-in authenticators, so they come from kafkajs-internals; a
 * custom `Mechanism` is its documented way to supply an authenticator.
 */
import { KafkaJSSASLAuthenticationError, type Mechanism } from 'kafkajs';
import type { SaslConfig } from '../../config/config.js';
import { saslAuthenticatorProvider } from '../../kafkajs-internals/index.js';

/** Its .d.ts declares no constructor arguments; at run time it takes a message and `{ cause }` like every other. */
const SaslAuthenticationError = KafkaJSSASLAuthenticationError as unknown as new (
  message: string,
  options: { cause: unknown },
) => KafkaJSSASLAuthenticationError;

/** kafkajs' prefix ("SASL SCRAM SHA512 authentication failed: "), which the new message replaces. */
const KAFKAJS_PREFIX = /^SASL [A-Za-z0-9 -]+ authentication failed: /;

export function saslMechanism(sasl: SaslConfig): Mechanism {
  const builtIn = saslAuthenticatorProvider(sasl.mechanism);
  const provider = builtIn({ username: sasl.username, password: sasl.password });
  const name = sasl.mechanism.toUpperCase();
  return {
    // kafkajs sends the mechanism in upper case in the handshake, whatever case it is given.
    mechanism: sasl.mechanism,
    authenticationProvider: (args) => {
      const authenticator = provider(args);
      return {
        authenticate: async () => {
          try {
            await authenticator.authenticate();
          } catch (error) {
            throw authenticationFailed(error, name, sasl.username, `${args.host}:${args.port}`);
          }
        },
      };
    },
  };
}

function authenticationFailed(
  error: unknown,
  mechanism: string,
  username: string,
  broker: string,
): KafkaJSSASLAuthenticationError {
  const reason = error instanceof Error ? error.message.replace(KAFKAJS_PREFIX, '') : String(error);
  // Non-retriable, like kafkajs' own: its retrier gives up at once instead of trying the same password again.
  return new SaslAuthenticationError(
    `SASL ${mechanism} authentication of user ${JSON.stringify(username)} failed at broker ${broker}: ${reason}`,
    { cause: error },
  );
}
