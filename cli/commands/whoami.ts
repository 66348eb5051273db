import type { Context } from '../context.js';
import { show } from '../ui.js';

export async function run(ctx: Context): Promise<void> {
  const { user } = await (await ctx.api({ session: true })).me();
  show(ctx.io, { user }, () => [user.username]);
}
