// Prompts through inquirer. This module is imported only when a prompt is really needed.
import inquirer from 'inquirer';

export type Check = (value: string) => string | undefined;

export interface Prompt {
  input(message: string, options?: { check?: Check; default?: string }): Promise<string>;
  password(message: string, check?: Check): Promise<string>;
  select<T extends string>(message: string, choices: { name: string; value: T }[]): Promise<T>;
}

function validate(check: Check | undefined) {
  return (value: string) => check?.(value) ?? true;
}

export function createPrompt(): Prompt {
  return {
    async input(message, options = {}) {
      const { value } = await inquirer.prompt<{ value: string }>([
        { type: 'input', name: 'value', message, default: options.default, validate: validate(options.check) },
      ]);
      return value.trim();
    },
    async password(message, check) {
      const { value } = await inquirer.prompt<{ value: string }>([{ type: 'password', name: 'value', message, mask: '*', validate: validate(check) }]);
      return value;
    },
    async select(message, choices) {
      // Every choice on screen (inquirer pages past 7, which would hide a menu's last entries and Quit).
      const { value } = await inquirer.prompt<{ value: string }>([{ type: 'select', name: 'value', message, choices, pageSize: Math.max(7, choices.length) }]);
      return value as (typeof choices)[number]['value'];
    },
  };
}
