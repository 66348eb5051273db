// Password strength through zxcvbn-ts with its common-password and English dictionaries.
// Loaded lazily by the CLI (the dictionaries are large); the daemon loads it once at start.
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as english from '@zxcvbn-ts/language-en';
import { PASSWORD_MAX, passwordBasicProblem, type PasswordContext } from './rules.js';

/** zxcvbn score 3 = "safely unguessable", at least 10^8 guesses: the usual floor for accounts. */
export const MIN_SCORE = 3;

const zxcvbn = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...english.dictionary },
  graphs: common.adjacencyGraphs,
  translations: english.translations,
  maxLength: PASSWORD_MAX,
});

/** Every password rule: length, personal information, then estimated strength. */
export function passwordProblem(password: string, context: PasswordContext = {}): string | undefined {
  const basic = passwordBasicProblem(password, context);
  if (basic) return basic;
  const inputs = [context.username, context.email, context.email?.split('@')[0]].filter(
    (value): value is string => typeof value === 'string' && value.length > 0,
  );
  const result = zxcvbn.check(password, inputs);
  if (result.score >= MIN_SCORE) return undefined;
  const hint = result.feedback.warning ?? result.feedback.suggestions[0];
  return `Password is too weak${hint ? `: ${hint.replace(/\.$/, '')}` : ''}. Use a longer passphrase of unrelated words.`;
}
